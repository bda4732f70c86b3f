//! Every command's `--json` output against the JSON Schema kept in `docs/json-schema/` (checked by
//! check-jsonschema): the documented shapes are the real ones, with no undocumented field
//! (`additionalProperties: false`) and no documented field missing (`required`).

mod everyday_support;
mod support;

use std::path::{Path, PathBuf};

use everyday_support::{assert_code, parse_json, Laptop};
use serde_json::Value;

fn schema_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/json-schema")
}

/// Runs `ccsync ARGS --json` (exit `code`) and returns its document.
fn output(laptop: &Laptop, args: &[&str], code: i32) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let output = laptop.run(&all);
    assert_code(&output, code);
    parse_json(&output)
}

fn check(checker: &Path, dir: &Path, schema: &str, instance: &Value) {
    let file = dir.join(format!("{schema}-{}.json", rand_suffix()));
    std::fs::write(&file, serde_json::to_vec_pretty(instance).unwrap()).unwrap();
    if let Some(dump) = std::env::var_os("CCSYNC_DUMP_JSON") {
        std::fs::create_dir_all(&dump).unwrap();
        std::fs::copy(&file, Path::new(&dump).join(file.file_name().unwrap())).unwrap();
    }
    let result = std::process::Command::new(checker)
        .arg("--schemafile")
        .arg(schema_dir().join(format!("{schema}.json")))
        .arg(&file)
        .output()
        .expect("check-jsonschema runs");
    assert!(
        result.status.success(),
        "`{schema}` output does not match docs/json-schema/{schema}.json:\n{}\n{}\n{}",
        String::from_utf8_lossy(&result.stdout),
        String::from_utf8_lossy(&result.stderr),
        serde_json::to_string_pretty(instance).unwrap()
    );
}

fn rand_suffix() -> String {
    support::sessions::new_id()[..8].to_owned()
}

#[test]
fn every_json_output_matches_its_schema() {
    let Some(checker) = support::require_tool("check-jsonschema", "pip install check-jsonschema")
    else {
        return;
    };
    let laptop = Laptop::new();
    let dir = laptop.env.temp.path().join("instances");
    std::fs::create_dir_all(&dir).unwrap();
    let check = |schema: &str, instance: &Value| check(&checker, &dir, schema, instance);

    let a = laptop.session("main", "2026-03-01T10:00:00Z");
    let b = laptop.session("main", "2026-03-02T10:00:00Z");
    check("sessions", &output(&laptop, &["sessions"], 0));
    check("discover", &output(&laptop, &["discover"], 0));
    check(
        "release-push",
        &output(&laptop, &["release-push", "--session", &a.id], 0),
    );
    check(
        "release-push",
        &output(
            &laptop,
            &["release-push", "--session", &b.id, "--dry-run"],
            0,
        ),
    );
    check(
        "release-push",
        &output(&laptop, &["release-push", "--session", &a.id], 0),
    );
    laptop.push("main", &b.id);
    laptop.push("feature", &b.id);
    check("release-list", &output(&laptop, &["release-list"], 0));
    check(
        "release-show",
        &output(&laptop, &["release-show", "--session", &a.id], 0),
    );
    check("status", &output(&laptop, &["status"], 0));
    check("status", &output(&laptop, &["status", "--all"], 0));
    let folder = laptop.env.temp.path().join("exported");
    check(
        "release-export",
        &output(
            &laptop,
            &[
                "release-export",
                "--session",
                &a.id,
                "--output",
                folder.to_str().unwrap(),
            ],
            0,
        ),
    );
    check(
        "release-restore",
        &output(&laptop, &["release-restore", "--session", &a.id], 0),
    );
    check(
        "release-restore",
        &output(&laptop, &["release-restore", "--branch", "nothing"], 0),
    );
    check(
        "release-prune-session",
        &output(
            &laptop,
            &["release-prune", "--session", &b.id, "--dry-run"],
            0,
        ),
    );
    check(
        "release-prune-session",
        &output(&laptop, &["release-prune", "--session", &b.id, "--yes"], 0),
    );
    check(
        "release-prune",
        &output(&laptop, &["release-prune", "--gone", "--dry-run"], 0),
    );
    check("doctor", &output(&laptop, &["doctor"], 0));
    check("hook", &output(&laptop, &["hook", "install"], 0));
    check("hook", &output(&laptop, &["hook", "uninstall"], 0));

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let claude = laptop.env.temp.path().join("claude-standin");
        std::fs::write(&claude, "#!/bin/sh\nexit 0\n").unwrap();
        std::fs::set_permissions(&claude, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mut cmd = laptop.cmd(&["resume", "--session", &a.id, "--json"]);
        cmd.env("CCSYNC_CLAUDE", &claude);
        let out = everyday_support::run(cmd);
        assert_code(&out, 0);
        check("resume", &parse_json(&out));
    }
}
