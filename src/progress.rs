//! Progress for the long steps (packing, upload, download): an indicatif bar when a person watches
//! a terminal ([`Ui::shows_progress`]), one plain line otherwise (GitHub Actions logs, pipes), and
//! nothing with `-q` or `--json`.
//!
//! Packing and downloading write a file whose path is known in advance, so their progress is that
//! file's size, watched from a thread: the code doing the work needs no callback. An upload is
//! shown as a spinner with its size.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::ui::human_size;
use crate::ui::Ui;

const TICK: Duration = Duration::from_millis(100);

/// One step in progress; the bar goes away when it is dropped.
pub struct Step {
    bar: Option<ProgressBar>,
    watcher: Option<(Arc<AtomicBool>, JoinHandle<()>)>,
}

impl Step {
    /// A step whose progress is the growing size of `file` (out of `total` bytes when known).
    pub fn watch_file(ui: &Ui, message: &str, file: &Path, total: Option<u64>) -> Step {
        let mut step = Step::start(ui, message, Some(total));
        if let Some(bar) = &step.bar {
            let stop = Arc::new(AtomicBool::new(false));
            let (bar, path, flag) = (bar.clone(), file.to_path_buf(), stop.clone());
            let handle = std::thread::spawn(move || watch(&bar, &path, &flag));
            step.watcher = Some((stop, handle));
        }
        step
    }

    /// A step with no measurable progress: a spinner (with the size of the work, if given).
    pub fn spinner(ui: &Ui, message: &str, size: Option<u64>) -> Step {
        let message = match size {
            Some(size) => format!("{message} ({})", human_size(size)),
            None => message.to_owned(),
        };
        Step::start(ui, &message, None)
    }

    /// `total`: `Some(Some(n))` a bar to `n` bytes, `Some(None)` a byte count of unknown end, `None`
    /// a plain spinner.
    fn start(ui: &Ui, message: &str, total: Option<Option<u64>>) -> Step {
        if !ui.shows_progress() {
            // A log line says what is happening, once; people in a terminal see the bar instead.
            if ui.in_actions || ui.verbose > 0 {
                ui.info(message);
            }
            return Step {
                bar: None,
                watcher: None,
            };
        }
        let bar = match total {
            Some(Some(total)) => {
                ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr()).with_style(
                    ProgressStyle::with_template(
                        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} {eta}",
                    )
                    .expect("valid template")
                    .progress_chars("=> "),
                )
            }
            Some(None) => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
                .with_style(
                    ProgressStyle::with_template("{spinner} {msg} {bytes} {elapsed}")
                        .expect("valid template"),
                ),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()).with_style(
                ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("valid template"),
            ),
        };
        bar.set_message(crate::neutral::text(message).into_owned());
        bar.enable_steady_tick(TICK);
        Step {
            bar: Some(bar),
            watcher: None,
        }
    }

    /// True when a bar is drawn (a terminal is watching).
    pub fn is_visible(&self) -> bool {
        self.bar.is_some()
    }
}

impl Drop for Step {
    fn drop(&mut self) {
        if let Some((stop, handle)) = self.watcher.take() {
            stop.store(true, Ordering::SeqCst);
            let _ = handle.join();
        }
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

fn watch(bar: &ProgressBar, path: &PathBuf, stop: &AtomicBool) {
    while !stop.load(Ordering::SeqCst) {
        if let Ok(meta) = std::fs::metadata(path) {
            bar.set_position(meta.len());
        }
        std::thread::sleep(TICK);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quiet_ui() -> Ui {
        Ui {
            json: false,
            quiet: true,
            verbose: 0,
            in_actions: false,
        }
    }

    #[test]
    fn no_bar_without_a_terminal_or_with_quiet() {
        let dir = tempfile::tempdir().unwrap();
        let step = Step::watch_file(&quiet_ui(), "downloading", &dir.path().join("x"), Some(10));
        assert!(!step.is_visible());
        let step = Step::spinner(&quiet_ui(), "uploading", Some(10));
        assert!(!step.is_visible());
    }
}
