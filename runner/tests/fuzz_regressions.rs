//! Every input the fuzz targets (`runner/fuzz/`) found, and their seeds,
//! through the same checks the targets make (`hoist::fuzzing`): none may
//! panic, and every error must say where.

use std::path::Path;

fn replay(target: &str, check: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut n = 0;
    for dir in ["seeds", "regressions"] {
        let Ok(entries) = std::fs::read_dir(root.join(dir).join(target)) else {
            continue;
        };
        for entry in entries.filter_map(Result::ok) {
            let path = entry.path();
            if path.file_name().is_some_and(|n| n == ".keep") {
                continue;
            }
            let data = std::fs::read(&path).unwrap();
            let result = std::panic::catch_unwind(|| check(&data));
            assert!(result.is_ok(), "{} fails its check", path.display());
            n += 1;
        }
    }
    assert!(n > 0, "no inputs for {target}");
}

#[test]
fn config_inputs() {
    replay("config", hoist::fuzzing::config);
}

#[test]
fn secrets_inputs() {
    replay("secrets", hoist::fuzzing::secrets);
}

#[test]
fn units_inputs() {
    replay("units", hoist::fuzzing::units);
}
