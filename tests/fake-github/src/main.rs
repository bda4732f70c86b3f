//! `fake-github [--ghes] [--port N] [--log FILE] [--no-redirect]`: serves the fake until killed, after
//! printing one JSON line `{"api_url":..,"uploads_url":..,"storage_url":..}` on stdout.

use std::io::Write;

use fake_github::Options;

fn usage() -> ! {
    eprintln!("usage: fake-github [--ghes] [--port N] [--log FILE] [--no-redirect]");
    std::process::exit(2)
}

fn main() {
    let mut options = Options::default();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--ghes" => options.ghes = true,
            "--no-redirect" => options.redirect_downloads = false,
            "--port" => {
                options.port = args
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or_else(|| usage())
            }
            "--log" => options.log_file = Some(args.next().unwrap_or_else(|| usage()).into()),
            "-h" | "--help" => usage(),
            _ => usage(),
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio runtime");
    runtime.block_on(async move {
        let (_stop, shutdown) = tokio::sync::watch::channel(false);
        let ((_state, urls), _tasks) = match fake_github::bind(options, shutdown).await {
            Ok(bound) => bound,
            Err(err) => {
                eprintln!("fake-github: cannot listen on 127.0.0.1: {err}");
                std::process::exit(1);
            }
        };
        let line = serde_json::json!({
            "api_url": urls.api_url,
            "uploads_url": urls.uploads_url,
            "storage_url": urls.storage_url,
        });
        let mut stdout = std::io::stdout().lock();
        let _ = writeln!(stdout, "{line}");
        let _ = stdout.flush();
        drop(stdout);
        let _ = tokio::signal::ctrl_c().await;
    });
}
