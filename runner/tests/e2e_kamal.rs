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
    app.write_executable("stand-in-bin/op", OP);
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

/// A stand-in vendor CLI (the services are not reachable here): it logs
/// each call and answers the calls Kamal's adapter makes with what the CLI
/// prints (`(arguments, stdout, stderr)`), failing any other call.
fn stand_in(answers: &[(&str, &str, &str)]) -> String {
    let mut script = String::from(
        "#!/bin/sh\necho \"$(basename \"$0\") $*\" >> \"$STAND_IN_LOG\"\ncase \"$*\" in\n",
    );
    for (args, out, err) in answers {
        assert!(!args.contains('\''), "{args}");
        script.push_str(&format!("  '{args}')\n"));
        if !out.is_empty() {
            script.push_str(&format!("    cat <<'OUT'\n{out}\nOUT\n"));
        }
        if !err.is_empty() {
            script.push_str(&format!("    cat >&2 <<'ERR'\n{err}\nERR\n"));
        }
        script.push_str("    ;;\n");
    }
    script.push_str("  *) echo \"unexpected call: $*\" >&2; exit 1 ;;\nesac\n");
    script
}

/// Every Kamal adapter but 1Password's (the test above): the secrets-file
/// idiom `SECRETS=$(kamal secrets fetch --adapter X ...)` then `extract`
/// runs the vendor's CLI from PATH with the arguments Kamal passes, and the
/// value reaches `hoist secrets print`.
#[test]
fn every_kamal_secrets_adapter_calls_its_vendor_cli() {
    let app = App::new("kamal-adapters", "servers: [local]\n");
    let bin = app.path().join("stand-in-bin");
    let log = app.path().join("stand-in.log");
    let env = [
        (
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        ),
        ("STAND_IN_LOG", log.display().to_string()),
    ];
    // (program, its answers, the fetch arguments, the name extracted, the value)
    type Case<'a> = (
        &'a str,
        Vec<(&'a str, &'a str, &'a str)>,
        &'a str,
        &'a str,
        &'a str,
    );
    let cases: Vec<Case> = vec![
        (
            "bw",
            vec![
                ("--version", "2024.9.0", ""),
                (
                    "status",
                    r#"{"serverUrl":null,"lastSync":"2026-12-01T10:00:00.000Z","userEmail":"me@example.com","userId":"u1","status":"unlocked"}"#,
                    "",
                ),
                ("sync", "Syncing complete.", ""),
                (
                    "get item app",
                    r#"{"object":"item","id":"i1","name":"app","login":{"username":"me","password":"bw-login-pw"},"fields":[{"name":"API_KEY","value":"bw-field-value","type":1}]}"#,
                    "",
                ),
            ],
            "--adapter bitwarden --account me@example.com --from app API_KEY",
            "API_KEY",
            "bw-field-value",
        ),
        (
            "bws",
            vec![
                ("--version", "bws 1.0.0", ""),
                ("run echo OK", "OK", ""),
                (
                    "secret list proj-1",
                    r#"[{"object":"secret","id":"s1","organizationId":"o1","projectId":"proj-1","key":"DB_URL","value":"postgres://bws","note":""}]"#,
                    "",
                ),
            ],
            "--adapter bitwarden-sm all --from proj-1",
            "DB_URL",
            "postgres://bws",
        ),
        (
            "lpass",
            vec![
                ("--version", "LastPass CLI v1.6.1", ""),
                ("status --color never", "Logged in as me@example.com.", ""),
                (
                    "show Shared/TOKEN --json",
                    r#"[{"id":"7","name":"TOKEN","fullname":"Shared/TOKEN","username":"","password":"lp-token","last_modified_gmt":"1700000000","last_touch":"0","group":"Shared","url":"","note":""}]"#,
                    "",
                ),
            ],
            "--adapter lastpass --account me@example.com --from Shared TOKEN",
            "TOKEN",
            "lp-token",
        ),
        (
            "aws",
            vec![
                (
                    "--version",
                    "aws-cli/2.15.0 Python/3.11.6 Linux/6.1 exe/x86_64.debian.12",
                    "",
                ),
                (
                    "secretsmanager batch-get-secret-value --secret-id-list app/db --profile prod",
                    r#"{"SecretValues":[{"ARN":"arn:aws:secretsmanager:eu-west-1:1:secret:app/db","Name":"app/db","VersionId":"v1","SecretString":"{\"user\":\"aws-user\",\"port\":5432}","VersionStages":["AWSCURRENT"],"CreatedDate":"2026-01-01T00:00:00+00:00"}],"Errors":[]}"#,
                    "",
                ),
            ],
            "--adapter aws_secrets_manager --account prod app/db",
            "user",
            "aws-user",
        ),
        (
            "gcloud",
            vec![
                ("--version", "Google Cloud SDK 500.0.0", ""),
                (
                    "auth list --format=json",
                    r#"[{"account":"me@example.com","status":"ACTIVE"}]"#,
                    "",
                ),
                (
                    "secrets versions access latest --secret=db-pass --format=json",
                    r#"{"name":"projects/1/secrets/db-pass/versions/3","payload":{"data":"aHVudGVyMg==","dataCrc32c":"1"}}"#,
                    "",
                ),
            ],
            "--adapter gcp --account default db-pass",
            "db-pass",
            "hunter2",
        ),
        (
            "doppler",
            vec![
                ("--version", "v3.69.0", ""),
                (
                    "me --json",
                    r#"{"workplace":{"name":"w"},"type":"personal"}"#,
                    "",
                ),
                (
                    "secrets get SECRET_KEY --json -p app -c prd",
                    r#"{"SECRET_KEY":{"computed":"dop-value","note":"","raw":"dop-value"}}"#,
                    "",
                ),
            ],
            "--adapter doppler --from app/prd SECRET_KEY",
            "SECRET_KEY",
            "dop-value",
        ),
        (
            "enpass-cli",
            vec![
                ("version", "v1.6.0", ""),
                (
                    "-vault /vaults/primary show SERVER",
                    "",
                    "time=\"2026-12-01T10:00:00Z\" level=info msg=\"> title: SERVER  login:   cat.: computer  label: SSH_PASS  password: enpass-pw\"",
                ),
            ],
            "--adapter enpass --account /vaults/primary --from SERVER SSH_PASS",
            "SSH_PASS",
            "enpass-pw",
        ),
        (
            "passbolt",
            vec![
                ("--version", "passbolt version 0.3.2", ""),
                ("verify", "Login Successful", ""),
                (
                    r#"list folders --filter Name == "prod" --json"#,
                    r#"[{"id":"f1","folder_parent_id":"","name":"prod"}]"#,
                    "",
                ),
                (
                    r#"list resources --filter (Name == "PW" && FolderParentID == "f1") --folder f1 --json"#,
                    r#"[{"id":"r1","folder_parent_id":"f1","name":"PW","username":"","uri":"","password":"pb-pw","description":""}]"#,
                    "",
                ),
            ],
            "--adapter passbolt prod/PW",
            "PW",
            "pb-pw",
        ),
    ];
    for (program, answers, fetch, name, value) in &cases {
        app.write_executable(&format!("stand-in-bin/{program}"), &stand_in(answers));
        app.write(
            ".kamal/secrets",
            &format!("SECRETS=$(kamal secrets fetch {fetch})\nVALUE=$(kamal secrets extract {name} $SECRETS)\n"),
        );
        let _ = std::fs::remove_file(&log);
        let run = app.hoist_env(&["secrets", "print"], &env);
        let calls = std::fs::read_to_string(&log).unwrap_or_default();
        assert!(
            run.ok() && run.stdout.contains(&format!("VALUE={value}\n")),
            "{program}: {}\ncalls:\n{calls}",
            run.text()
        );
        // Each answered call was made, and no other.
        for (args, _, _) in answers {
            assert!(
                calls.lines().any(|l| l == format!("{program} {args}")),
                "{program} {args} not called:\n{calls}"
            );
        }
        assert!(!run.text().contains("unexpected call"), "{}", run.text());
    }
    // A vendor CLI that is not installed is named, with what to do.
    std::fs::remove_file(bin.join("doppler")).unwrap();
    app.write(
        ".kamal/secrets",
        "SECRETS=$(kamal secrets fetch --adapter doppler --from app/prd SECRET_KEY)\n",
    );
    let run = app.hoist_env(
        &["secrets", "print"],
        &[
            ("PATH", format!("{}:/usr/bin:/bin", bin.display())),
            env[1].clone(),
        ],
    );
    run.assert_failed();
    assert!(
        run.text()
            .contains("Doppler CLI is not installed (`doppler` is not on PATH or fails)"),
        "{}",
        run.text()
    );
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
    // Newer Kamal keys: `rollout` warns; `container_engine: podman` loads
    // for `hoist config` and refuses the deploy at its line, before any
    // host is changed (v1 keeps running).
    app.config(
        "servers:\n  web:\n    hosts: [local]\nrollout:\n  max_percent: 5\ncontainer_engine: podman\n",
    );
    let run = app.hoist(&["config"]);
    run.assert_ok();
    assert!(
        run.text().contains("`rollout` is ignored: ")
            && run
                .text()
                .contains("deploys are refused: config/deploy.yml:")
            && run
                .text()
                .contains("`container_engine`: hoist drives Docker Engines"),
        "{}",
        run.text()
    );
    let before = app.running();
    assert_eq!(before.len(), 1, "{before:?}");
    let run = app.deploy("v2", &[]);
    run.assert_failed();
    assert!(
        run.text()
            .contains("not `podman`, so it will not deploy this"),
        "{}",
        run.text()
    );
    assert_eq!(app.running(), before);
    app.assert_unlocked("after the refused deploy");
    app.hoist(&["remove", "-y"]).assert_ok();
}

/// One script for every hook point: it logs the point, Kamal's variables,
/// whether it saw the secret, and whether the version's container is up.
const HOOK: &str = r#"#!/bin/sh
name=$(basename "$0")
up=$(docker ps -q --filter "name=^/${KAMAL_SERVICE}-web-${KAMAL_VERSION}\$" | wc -l | tr -d ' ')
echo "$name hosts=$KAMAL_HOSTS sv=$KAMAL_SERVICE_VERSION cmd=$KAMAL_COMMAND sub=${KAMAL_SUBCOMMAND-} lock=$KAMAL_LOCK roles=${KAMAL_ROLES-unset} runtime=${KAMAL_RUNTIME-unset} secret=${HOOK_SECRET-none} up=$up" >> "$HOOK_LOG"
echo "said by $name"
if [ "$FAIL_HOOK" = "$name" ]; then echo "checks failed for $KAMAL_VERSION" >&2; exit 3; fi
"#;

#[test]
fn kamal_shell_hooks_run_at_kamals_points_with_kamals_environment() {
    let app = App::new(
        "kamal-hooks",
        "servers:\n  web:\n    hosts: [local]\nreadiness_delay: 1\ndeploy_timeout: 20\n",
    );
    app.write(".kamal/secrets", "HOOK_SECRET=hook-secret-value-42\n");
    let points = [
        "pre-connect",
        "docker-setup",
        "pre-build",
        "pre-deploy",
        "pre-app-boot",
        "post-app-boot",
        "post-deploy",
    ];
    for p in points {
        app.write_executable(&format!(".kamal/hooks/{p}"), HOOK);
    }
    // A sample file is not a hook.
    app.write(".kamal/hooks/pre-build.sample", "#!/bin/sh\nexit 1\n");
    let log = app.path().join("hooks.log");
    let env = |fail: &str| {
        vec![
            ("HOOK_LOG", log.display().to_string()),
            ("FAIL_HOOK", fail.to_string()),
        ]
    };
    let lines = || -> Vec<String> {
        std::fs::read_to_string(&log)
            .unwrap_or_default()
            .lines()
            .map(String::from)
            .collect()
    };
    let sv = |v: &str| format!("{}@{v}", app.service);

    // A deploy reaches Kamal's points in Kamal's order; secrets only reach
    // pre-connect, pre-deploy and post-deploy; post-deploy runs after the
    // lock is released, with the runtime in whole seconds.
    let run = app.hoist_env(&["deploy", "--version", "v1", "-r", "web"], &env(""));
    run.assert_ok();
    let got = lines();
    let expect = |i: usize, point: &str, lock: bool, secret: bool, up: u8| {
        let line = &got[i];
        let want = format!(
            "{point} hosts=local sv={} cmd=deploy sub= lock={lock} roles=web runtime=",
            sv("v1")
        );
        assert!(line.starts_with(&want), "{line}\nwanted {want}");
        let secret = if secret {
            "hook-secret-value-42"
        } else {
            "none"
        };
        assert!(
            line.ends_with(&format!(" secret={secret} up={up}")),
            "{line}"
        );
    };
    assert_eq!(got.len(), 6, "{got:#?}\n{}", run.text());
    expect(0, "pre-connect", false, true, 0);
    expect(1, "pre-build", true, false, 0);
    expect(2, "pre-deploy", true, true, 0);
    expect(3, "pre-app-boot", true, false, 0);
    expect(4, "post-app-boot", true, false, 1);
    expect(5, "post-deploy", false, true, 1);
    let runtime = got[5]
        .split("runtime=")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap();
    assert!(runtime.parse::<u64>().is_ok(), "{}", got[5]);
    assert!(
        got[..5].iter().all(|l| l.contains("runtime=unset")),
        "{got:#?}"
    );
    // Their output is hidden unless asked for; the secret never shows; the
    // first hook says it runs outside the plugin sandbox.
    let text = run.text();
    assert!(!text.contains("said by"), "{text}");
    assert!(!text.contains("hook-secret-value-42"), "{text}");
    assert!(
        text.contains("Running the pre-connect hook (.kamal/hooks/pre-connect: a Kamal shell hook; it runs as you, outside the plugin sandbox)")
            && text.contains("Running the post-deploy hook..."),
        "{text}"
    );

    // hooks_output shows one hook's output; without -r there is no
    // KAMAL_ROLES.
    app.config(
        "servers:\n  web:\n    hosts: [local]\nreadiness_delay: 1\ndeploy_timeout: 20\nhooks_output:\n  pre-build: :verbose\n",
    );
    let run = app.hoist_env(&["deploy", "--version", "v2"], &env(""));
    run.assert_ok();
    assert!(
        run.text().contains("pre-build: said by pre-build")
            && !run.text().contains("said by pre-deploy"),
        "{}",
        run.text()
    );
    assert!(lines()[6..].iter().all(|l| l.contains("roles=unset")));

    // A rollback builds nothing, so no pre-build; the rest run.
    let before = lines().len();
    app.hoist_env(&["rollback", "v1"], &env("")).assert_ok();
    let points_run: Vec<String> = lines()[before..]
        .iter()
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect();
    assert_eq!(
        points_run,
        [
            "pre-connect",
            "pre-deploy",
            "pre-app-boot",
            "post-app-boot",
            "post-deploy"
        ]
    );
    assert!(lines()[before..].iter().all(|l| l.contains("cmd=rollback")));

    // `server bootstrap` checks the engines, then runs docker-setup (lock
    // held); `setup` does the same before its deploy.
    let before = lines().len();
    app.hoist_env(&["server", "bootstrap"], &env(""))
        .assert_ok();
    let got = lines()[before..].to_vec();
    assert_eq!(got.len(), 2, "{got:#?}");
    assert!(got[0].starts_with("pre-connect hosts=local"), "{got:#?}");
    assert!(
        got[1].starts_with(&format!(
            "docker-setup hosts=local sv={} cmd=server sub=bootstrap lock=true ",
            sv("")
        )),
        "{got:#?}"
    );
    let before = lines().len();
    app.hoist_env(&["setup", "--version", "v2"], &env(""))
        .assert_ok();
    let points_run: Vec<String> = lines()[before..]
        .iter()
        .map(|l| l.split(' ').next().unwrap().to_string())
        .collect();
    assert_eq!(
        points_run,
        [
            "pre-connect",
            "docker-setup",
            "pre-build",
            "pre-deploy",
            "pre-app-boot",
            "post-app-boot",
            "post-deploy"
        ]
    );

    // -H runs no hook at all, pre-connect included.
    let before = lines().len();
    app.hoist_env(&["deploy", "--version", "v3", "-H"], &env(""))
        .assert_ok();
    assert_eq!(lines().len(), before);

    // A failing pre-deploy hook stops the deploy before anything changes,
    // with Kamal's words and the hook's output; the lock is released.
    let run = app.hoist_env(&["deploy", "--version", "v4"], &env("pre-deploy"));
    run.assert_failed();
    assert!(
        run.text().contains(
            "Hook `pre-deploy` failed: .kamal/hooks/pre-deploy exited with status 3; fix the hook, or pass -H (--skip-hooks) to run without hooks"
        ) && run.text().contains("stderr: checks failed for v4"),
        "{}",
        run.text()
    );
    assert!(app.container(&format!("{}-web-v4", app.service)).is_none());
    assert_eq!(app.running(), [format!("{}-web-v3", app.service)]);
    app.assert_unlocked("after a failed pre-deploy hook");

    // A failing post-app-boot hook fails the deploy and puts the old
    // version back; post-deploy does not run.
    let run = app.hoist_env(&["deploy", "--version", "v5"], &env("post-app-boot"));
    run.assert_failed();
    assert!(
        run.text().contains("Hook `post-app-boot` failed"),
        "{}",
        run.text()
    );
    assert_eq!(app.running(), [format!("{}-web-v3", app.service)]);
    assert!(lines().last().unwrap().starts_with("post-app-boot "));
    app.assert_unlocked("after a failed post-app-boot hook");

    // A failing post-deploy hook fails the command, but the deploy is done.
    let run = app.hoist_env(&["deploy", "--version", "v6"], &env("post-deploy"));
    run.assert_failed();
    assert!(
        run.text()
            .contains("Deployed (the lock is released), but then Hook `post-deploy` failed"),
        "{}",
        run.text()
    );
    assert_eq!(app.running(), [format!("{}-web-v6", app.service)]);
    app.assert_unlocked("after a failed post-deploy hook");

    // A hook that is not executable is named at load, and fails as Kamal's.
    let pre_build = app.path().join(".kamal/hooks/pre-build");
    std::fs::set_permissions(&pre_build, std::fs::Permissions::from_mode(0o644)).unwrap();
    let run = app.hoist_env(&["deploy", "--version", "v7"], &env(""));
    run.assert_failed();
    assert!(
        run.text().contains("pre-build is not executable")
            && run
                .text()
                .contains("(make it executable: chmod +x .kamal/hooks/pre-build)"),
        "{}",
        run.text()
    );
    app.assert_unlocked("after a hook that could not start");
    app.hoist_env(&["remove", "-y"], &env("")).assert_ok();
}

/// The README's newcomer path: `hoist init` in an app with a Dockerfile,
/// edit two lines (the server, the proxy's host), deploy to this machine.
#[test]
fn hoist_init_then_two_edits_deploys_to_this_machine() {
    let app = App::new("kamal-init", "servers: [local]\n");
    std::fs::remove_file(app.path().join("config/deploy.yml")).unwrap();
    let run = app.hoist(&["init"]);
    run.assert_ok();
    assert_eq!(
        run.stdout,
        "Created configuration file in config/deploy.yml\nCreated secrets file in .hoist/secrets\nCreated plugins dir in .hoist/plugins\n"
    );
    let written = app.read("config/deploy.yml");
    // The two edits (and this test's own service name, so tests don't meet).
    let edited = written
        .replacen("    - 192.168.0.1\n", "    - local\n", 1)
        .replacen("  host: app.example.com\n", "  host: localhost\n", 1)
        .replacen(
            "service: my-app\n",
            &format!("service: {}\n", app.service),
            1,
        );
    assert_ne!(edited, written);
    app.write("config/deploy.yml", &edited);
    let run = app.hoist(&["deploy", "--version", "v1"]);
    run.assert_ok();
    assert!(!run.text().contains("is ignored"), "{}", run.text());
    let out = std::process::Command::new("curl")
        .args(["-sS", "-H", "Host: localhost", "http://127.0.0.1/"])
        .output()
        .unwrap();
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(body.contains("version v1"), "{body}");
    // init again overwrites nothing.
    let run = app.hoist(&["init"]);
    run.assert_ok();
    assert!(
        run.stdout
            .contains("Configuration file already exists in config/deploy.yml (remove first to create a new one)"),
        "{}",
        run.stdout
    );
    assert_eq!(app.read("config/deploy.yml"), edited);
    app.hoist(&["remove", "-y"]).assert_ok();
}

/// Kamal's hook points are WebAssembly hook points too: a plugin configured
/// at pre-connect, pre-app-boot and post-app-boot runs there (after the
/// point's shell hook), knows the point, and fails the deploy where Kamal's
/// hook would.
#[test]
fn wasm_hooks_run_at_kamals_new_points() {
    let app = App::new(
        "kamal-points",
        "servers:\n  web:\n    hosts: [local]\nreadiness_delay: 1\ndeploy_timeout: 20\nhooks:\n  pre-connect: [points]\n  pre-app-boot: [points]\n  post-app-boot: [points]\n",
    );
    let wasm = support::guest_component("hoist-fixture-points");
    app.install_plugin(
        "points",
        &wasm,
        "name = \"points\"\nkind = \"hook\"\nstages = [\"pre-connect\", \"pre-app-boot\", \"post-app-boot\"]\n",
    );
    app.write_executable(
        ".kamal/hooks/pre-app-boot",
        "#!/bin/sh\necho shell-pre-app-boot\n",
    );
    let run = app.hoist(&["deploy", "-v", "--version", "v1"]);
    run.assert_ok();
    let text = run.text();
    let at = |needle: &str| {
        text.find(needle)
            .unwrap_or_else(|| panic!("no `{needle}` in:\n{text}"))
    };
    let pre_connect = at("point=pre-connect stage=Stage::LoadConfig hosts=local");
    let shell_boot = at("pre-app-boot: shell-pre-app-boot");
    let pre_boot = at("point=pre-app-boot stage=Stage::Rollout hosts=local");
    let started = at("started ");
    let post_boot = at("point=post-app-boot stage=Stage::Rollout hosts=local");
    assert!(
        pre_connect < at("▸ pre-build")
            && shell_boot < pre_boot
            && pre_boot < started
            && started < post_boot,
        "{text}"
    );
    // A failure at pre-app-boot fails the rollout before anything starts;
    // v1 keeps serving.
    app.config(
        "servers:\n  web:\n    hosts: [local]\nreadiness_delay: 1\ndeploy_timeout: 20\nhooks:\n  pre-app-boot:\n    - plugin: points\n      settings: { fail_at: pre-app-boot }\n",
    );
    let run = app.hoist(&["deploy", "--version", "v2"]);
    run.assert_failed();
    assert!(
        run.text().contains(
            "plugin `points` at pre-app-boot aborted the deploy: told to fail at pre-app-boot"
        ),
        "{}",
        run.text()
    );
    // The strategy's barrier message says what failed (not "unhealthy").
    assert!(
        run.text().contains(
            "the first web target failed on local (plugin `points` at pre-app-boot aborted the deploy: told to fail at pre-app-boot), not booting any other roles"
        ),
        "{}",
        run.text()
    );
    assert!(app.container(&format!("{}-web-v2", app.service)).is_none());
    assert_eq!(app.running(), [format!("{}-web-v1", app.service)]);
    app.assert_unlocked("after a failed pre-app-boot plugin");
    // A manifest may name only Kamal's points.
    app.install_plugin(
        "points",
        &wasm,
        "name = \"points\"\nkind = \"hook\"\nstages = [\"pre-boot\"]\n",
    );
    let run = app.hoist(&["plugin", "list"]);
    assert!(
        run.text().contains("stage `pre-boot` is not one of pre-connect, pre-build, pre-deploy, pre-app-boot, post-app-boot, post-deploy, pre-proxy-reboot, post-proxy-reboot, docker-setup"),
        "{}",
        run.text()
    );
    app.hoist(&["remove", "-y"]).assert_ok();
}

/// `proxy.ssl: true`, as Kamal's template writes it: the config loads with
/// no warning, and the deploy plan asks hoist-proxy for certificates from
/// Let's Encrypt for the host (`--dry-run`: nothing is contacted; the real
/// orders are in `e2e_acme.rs`, against Pebble).
#[test]
fn ssl_true_from_kamals_template_orders_from_lets_encrypt() {
    let app = App::new("kamal-ssl", "servers: [local]\n");
    std::fs::remove_file(app.path().join("config/deploy.yml")).unwrap();
    app.hoist(&["init"]).assert_ok();
    let text = app
        .read("config/deploy.yml")
        .replacen("    - 192.168.0.1\n", "    - local\n", 1)
        .replacen("proxy:\n", "proxy:\n  ssl: true\n", 1)
        .replacen(
            "service: my-app\n",
            &format!("service: {}\n", app.service),
            1,
        );
    app.write("config/deploy.yml", &text);
    let run = app.hoist(&["config"]);
    run.assert_ok();
    assert!(!run.stderr.contains("refused"), "{}", run.text());
    let run = app.hoist(&["deploy", "--dry-run", "--version", "v1"]);
    run.assert_ok();
    assert!(
        run.text().contains(
            "--host app.example.com --health-check-path /up"
        ) && run.text().contains(
            "--tls-acme --tls-acme-directory https://acme-v02.api.letsencrypt.org/directory --tls-redirect true"
        ),
        "{}",
        run.text()
    );
    app.assert_unlocked("after a dry run");
}
