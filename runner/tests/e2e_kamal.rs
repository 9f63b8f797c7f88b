//! End to end: a Kamal project's files as `kamal init` writes them, used
//! unchanged.

mod support;

use std::os::unix::fs::PermissionsExt;

use support::App;

/// A stand-in for 1Password's `op` (the service is not reachable here): it
/// answers the calls Kamal's adapter makes with what `op` prints, and logs
/// each call.
const OP: &str = r#"#!/bin/sh
echo "$*" >> "$OP_LOG"
case "$*" in
  --version) echo 2.30.3 ;;
  "account get --account my-account") echo "URL: my-account.1password.com" ;;
  "item get MyItem --vault MyVault --format json --account my-account --fields label=KAMAL_REGISTRY_PASSWORD,label=RAILS_MASTER_KEY")
    cat <<'JSON'
[
  {
    "id": "wr6bw5qcjyx3wblkwf7hzklnvu",
    "type": "CONCEALED",
    "label": "KAMAL_REGISTRY_PASSWORD",
    "value": "reg-pw with spaces & \"quotes\" $NOT_A_VAR",
    "reference": "op://MyVault/MyItem/KAMAL_REGISTRY_PASSWORD"
  },
  {
    "id": "t7qgfmh4ybkd2sygxhbocv3g5u",
    "type": "CONCEALED",
    "label": "RAILS_MASTER_KEY",
    "value": "0123456789abcdef0123456789abcdef",
    "reference": "op://MyVault/MyItem/RAILS_MASTER_KEY"
  }
]
JSON
  ;;
  *) echo "[ERROR] 2026/12/03 12:00:00 unexpected call: $*" >&2; exit 1 ;;
esac
"#;

/// The init template's secrets file with its third option uncommented, and
/// a command inside a comment that must never run.
const SECRETS: &str = "# Option 3: Read secrets via kamal secrets helpers
SECRETS=$(kamal secrets fetch --adapter 1password --account my-account --from MyVault/MyItem KAMAL_REGISTRY_PASSWORD RAILS_MASTER_KEY)
KAMAL_REGISTRY_PASSWORD=$(kamal secrets extract KAMAL_REGISTRY_PASSWORD $SECRETS)
RAILS_MASTER_KEY=$(kamal secrets extract RAILS_MASTER_KEY ${SECRETS})
# RAILS_MASTER_KEY=$(touch ran-in-a-comment)
";

#[test]
fn the_init_templates_secrets_idiom_reads_1password_through_op() {
    let app = App::new(
        "kamal-secrets",
        "servers:\n  web:\n    hosts: [local]\nreadiness_delay: 1\ndeploy_timeout: 20\nenv:\n  secret:\n    - RAILS_MASTER_KEY\n    - KAMAL_REGISTRY_PASSWORD\n",
    );
    app.write(".kamal/secrets", SECRETS);
    let bin = app.path().join("stand-in-bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::write(bin.join("op"), OP).unwrap();
    std::fs::set_permissions(bin.join("op"), std::fs::Permissions::from_mode(0o755)).unwrap();
    let log = app.path().join("op.log");
    let env = [
        (
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        ),
        ("OP_LOG", log.display().to_string()),
    ];
    let registry_pw = r#"reg-pw with spaces & "quotes" $NOT_A_VAR"#;

    // `hoist secrets print` shows what the file gives.
    let run = app.hoist_env(&["secrets", "print"], &env);
    run.assert_ok();
    assert!(
        run.stdout
            .contains("RAILS_MASTER_KEY=0123456789abcdef0123456789abcdef\n"),
        "{}",
        run.text()
    );
    assert!(
        run.stdout
            .contains(&format!("KAMAL_REGISTRY_PASSWORD={registry_pw}\n")),
        "{}",
        run.text()
    );
    assert!(
        !app.path().join("ran-in-a-comment").exists(),
        "a command in a comment ran"
    );
    // The item was read once for both fields, after the login check.
    let calls = std::fs::read_to_string(&log).unwrap();
    assert_eq!(
        calls.lines().filter(|l| l.starts_with("item get")).count(),
        1,
        "{calls}"
    );
    assert!(
        calls.starts_with("--version\naccount get --account my-account\n"),
        "{calls}"
    );

    // The deploy hands both values to the container, and never prints them.
    let run = app.hoist_env(&["deploy", "-v", "--version", "v1"], &env);
    run.assert_ok();
    assert!(!run.text().contains("0123456789abcdef"), "{}", run.text());
    let seen = support::docker(&[
        "inspect",
        "--format",
        "{{json .Config.Env}}",
        &format!("{}-web-v1", app.service),
    ]);
    let seen: Vec<String> = serde_json::from_str(&seen).unwrap();
    assert!(
        seen.contains(&"RAILS_MASTER_KEY=0123456789abcdef0123456789abcdef".to_string()),
        "{seen:?}"
    );
    assert!(
        seen.contains(&format!("KAMAL_REGISTRY_PASSWORD={registry_pw}")),
        "{seen:?}"
    );
    assert!(!app.path().join("ran-in-a-comment").exists());

    // The same commands on the command line print what Kamal prints.
    let run = app.hoist_env(
        &[
            "secrets",
            "fetch",
            "-a",
            "1password",
            "--account=my-account",
            "--from",
            "MyVault/MyItem",
            "KAMAL_REGISTRY_PASSWORD",
            "RAILS_MASTER_KEY",
        ],
        &env,
    );
    run.assert_ok();
    let printed = run.stdout.trim_end();
    let words = shell_words::split(printed).unwrap();
    assert_eq!(words.len(), 1, "{printed}");
    let json: serde_json::Value = serde_json::from_str(&words[0]).unwrap();
    assert_eq!(json["MyVault/MyItem/KAMAL_REGISTRY_PASSWORD"], registry_pw);
    let run = app.hoist_env(&["secrets", "extract", "RAILS_MASTER_KEY", &words[0]], &env);
    run.assert_ok();
    assert_eq!(run.stdout, "0123456789abcdef0123456789abcdef\n");

    // A vault call that fails names the item and vault; nothing deploys.
    app.write(
        ".kamal/secrets",
        &SECRETS.replace("MyVault/MyItem", "MyVault/Gone"),
    );
    let run = app.hoist_env(&["deploy", "--version", "v2"], &env);
    run.assert_failed();
    assert!(
        run.text()
            .contains("Could not read from Gone in the MyVault 1Password vault"),
        "{}",
        run.text()
    );
    assert!(run.text().contains(".kamal/secrets"), "{}", run.text());
    assert!(app.container(&format!("{}-web-v2", app.service)).is_none());
    app.assert_unlocked("after a failed secrets fetch");
    app.hoist(&["remove", "-y"]).assert_ok();
}

#[test]
fn aliases_run_their_command_with_arguments_appended_and_show_in_help() {
    let app = App::new(
        "kamal-alias",
        "servers:\n  web:\n    hosts: [local]\nreadiness_delay: 1\ndeploy_timeout: 20\nenv:\n  clear:\n    GREETING: hi\naliases:\n  say: app exec --reuse -e ALIAS=from-alias \"/hello env ALIAS\"\n  whoruns: lock status\n",
    );
    let help = app.hoist(&["--help"]);
    help.assert_ok();
    assert!(
        help.stdout.contains("Aliases")
            && help.stdout.contains(
                "say      hoist app exec --reuse -e ALIAS=from-alias \"/hello env ALIAS\""
            ),
        "{}",
        help.text()
    );
    app.deploy("v1", &[]).assert_ok();
    // The alias's quoted command line is split as Kamal's shell does, and
    // the arguments given follow it.
    let run = app.hoist(&["say", "GREETING"]);
    run.assert_ok();
    assert!(
        run.stdout.contains("ALIAS=from-alias") && run.stdout.contains("GREETING=hi"),
        "{}",
        run.text()
    );
    // Global flags go before or after the alias name.
    let run = app.hoist(&["-q", "say", "-r", "web"]);
    run.assert_ok();
    assert!(run.stdout.contains("ALIAS=from-alias"), "{}", run.text());
    // No warning about `aliases` any more; an unknown name lists them.
    assert!(!run.text().contains("`aliases`"), "{}", run.text());
    let run = app.hoist(&["sya"]);
    run.assert_failed();
    assert!(
        run.text().contains("unrecognized subcommand 'sya'")
            && run
                .text()
                .contains("the aliases in config/deploy.yml are: say, whoruns"),
        "{}",
        run.text()
    );
    // A Kamal key hoist does not act on still warns.
    app.config("servers:\n  web:\n    hosts: [local]\nminimum_version: 2.0.0\n");
    let run = app.hoist(&["config"]);
    run.assert_ok();
    assert!(
        run.text().contains("`minimum_version` is ignored: "),
        "{}",
        run.text()
    );
    app.hoist(&["remove", "-y"]).assert_ok();
}
