//! Tests of the config file shapes (every section).

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Deserialize;
use serde::de::{self, Deserializer, Visitor};

use super::accessories::*;
use super::duration::*;
use super::plugins::*;
use super::proxy::*;
use super::raw::*;
use super::servers::*;
use super::ssh::*;
use super::values::BootLimit;
use super::values::*;

/// The field names a derived `Deserialize` asks for, captured with a tiny deserializer.
fn struct_fields<'de, T: Deserialize<'de>>() -> &'static [&'static str] {
    struct Capture<'a>(&'a mut &'static [&'static str]);
    impl<'de> Deserializer<'de> for Capture<'_> {
        type Error = de::value::Error;
        fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Self::Error> {
            Err(de::Error::custom("not a struct"))
        }
        fn deserialize_struct<V: Visitor<'de>>(
            self,
            _name: &'static str,
            fields: &'static [&'static str],
            _visitor: V,
        ) -> Result<V::Value, Self::Error> {
            *self.0 = fields;
            Err(de::Error::custom("captured"))
        }
        serde::forward_to_deserialize_any! {
            bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
            byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map
            enum identifier ignored_any
        }
    }
    let mut fields: &'static [&'static str] = &[];
    let _ = T::deserialize(Capture(&mut fields));
    fields
}

fn parse(text: &str) -> RawConfig {
    match parse_str(text) {
        Ok(config) => config,
        Err(err) => panic!("parse failed: {err}"),
    }
}

/// Parses `text`, expecting an error; returns (line, column, display).
fn parse_err(text: &str) -> (u64, u64, String) {
    let err = parse_str(text).expect_err("expected a parse error");
    let loc = err.location().expect("error has a location");
    (loc.line(), loc.column(), err.to_string())
}

fn round_trip(config: &RawConfig) {
    let yaml = serde_saphyr::to_string(config).expect("serialize");
    let again = parse_str(&yaml).unwrap_or_else(|e| panic!("reparse failed: {e}\n{yaml}"));
    assert_eq!(
        &again, config,
        "round trip changed the value; YAML was:\n{yaml}"
    );
}

fn role<'a>(config: &'a RawConfig, name: &str) -> &'a RoleEntry {
    match config.servers.as_ref().expect("servers") {
        Servers::Roles(roles) => roles.get(name).expect("role"),
        other => panic!("expected roles, got {other:?}"),
    }
}

const KAMAL_SAMPLE: &str = r#"
x-common-env: &common-env
  RAILS_LOG_TO_STDOUT: "1"
  DATABASE_PORT: 5432

x-web-options: &web-options
  memory: 2g

service: myapp
image: acme/myapp
labels:
  team: platform
volumes:
  - /data/storage:/rails/storage
registry:
  server: ghcr.io
  username: acme
  password:
    - KAMAL_REGISTRY_PASSWORD
servers:
  web:
    hosts:
      - 192.168.0.1
      - 192.168.0.2: canary
    options:
      <<: *web-options
  workers:
    hosts:
      - 192.168.0.3
    cmd: bin/jobs
    options:
      memory: 4g
      cpus: 2
      init: true
      add-host: [a:1.2.3.4, b:5.6.7.8]
    env:
      clear:
        QUEUES: default,mailers
      secret:
        - REDIS_URL
    proxy: false
    stop_timeout: 60
env:
  clear:
    <<: *common-env
    RAILS_ENV: production
    DEBUG: false
  secret:
    - RAILS_MASTER_KEY
    - DB_PASSWORD:MAIN_DB_PASSWORD
  tags:
    canary:
      FEATURE_X: "on"
asset_path: /rails/public/assets
retain_containers: 3
readiness_delay: 4
deploy_timeout: 20
drain_timeout: 10
builder:
  arch: [amd64, arm64]
  remote: ssh://docker@builder
  args:
    RUBY_VERSION: 3.3.0
  cache:
    type: registry
    options: mode=max
  provenance: false
proxy:
  ssl: true
  host: app.example.com
  app_port: 3000
  healthcheck:
    interval: 3
    path: /up
    timeout: 5
  buffering:
    max_request_body: 40_000_000
  run:
    metrics_port: 9090
    options:
      cpus: 0.5
accessories:
  db:
    image: postgres:16
    host: 192.168.0.9
    port: 5432
    env:
      clear:
        POSTGRES_USER: app
      secret:
        - POSTGRES_PASSWORD
    files:
      - config/init.sql:/docker-entrypoint-initdb.d/setup.sql
      - local: config/pg.conf
        remote: /etc/postgresql/postgresql.conf
        mode: 0644
    directories:
      - data:/var/lib/postgresql/data
boot:
  limit: 25%
  wait: 2
aliases:
  console: app exec --interactive --reuse "bin/rails console"
ssh:
  user: deploy
  proxy: root@bastion.example.com
  config: [~/.ssh/config, ~/.ssh/extra]
hooks_output:
  pre-deploy: :verbose
"#;

#[test]
fn root_keys_match_struct_fields() {
    assert_eq!(struct_fields::<RawConfig>(), ROOT_KEYS);
}

#[test]
fn every_root_key_parses_and_serializes() {
    // One document with every root key; each must come back out under its own name.
    let text = r#"
service: s
image: i
labels: {a: b}
volumes: [v]
registry: {server: r}
servers: [h]
env: {A: b}
asset_path: /a
hooks_path: .kamal/hooks
hooks_output: quiet
secrets_path: .kamal/secrets
error_pages_path: public
require_destination: true
primary_role: web
allow_empty_roles: false
retain_containers: 5
minimum_version: 2.0.0
readiness_delay: 7
deploy_timeout: 30
drain_timeout: 30
stop_timeout: 10
run_directory: /etc/kamal
ssh: {user: root}
sshkit: {max_concurrent_starts: 10, pool_idle_timeout: 300, dns_retries: 3}
builder: {arch: amd64}
accessories: {db: {image: mysql}}
proxy: {host: a.example.com}
boot: {limit: 2, wait: 1, parallel_roles: true}
logging: {driver: json-file, options: {max-size: 10m}}
output: {file: {path: log/}, otel: {endpoint: "http://otel:4318"}}
aliases: {shell: app exec bash}
healthcheck: {path: /up, port: 3000, max_attempts: 7, interval: 1s, cmd: curl, log_lines: 50, cord: false}
plugins: {dir: plugins, cache_dir: .hoist/cache}
hooks: {pre-build: [lint]}
deploy: {strategy: rolling}
rollout: {max_percent: 25}
container_engine: docker
push_env: clear
post_deploy_lock: true
"#;
    let config = parse(text);
    let value = serde_json::to_value(&config).expect("to json");
    let keys: Vec<&str> = value
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    let mut expected: Vec<&str> = ROOT_KEYS.to_vec();
    expected.sort_unstable();
    assert_eq!(keys, expected);
    assert_eq!(
        config.healthcheck.as_ref().and_then(|h| h.cord.as_deref()),
        Some("false")
    );
    round_trip(&config);
}

#[test]
fn typical_kamal_config() {
    let config = parse(KAMAL_SAMPLE);
    assert_eq!(config.service.as_deref(), Some("myapp"));
    assert_eq!(config.image.as_deref(), Some("acme/myapp"));

    let registry = config.registry.as_ref().expect("registry");
    assert_eq!(registry.username, Some(Secretable::Literal("acme".into())));
    assert_eq!(
        registry.password,
        Some(Secretable::Secret("KAMAL_REGISTRY_PASSWORD".into()))
    );

    let RoleEntry::Role(web) = role(&config, "web") else {
        panic!("web is a role map")
    };
    assert_eq!(
        web.hosts.as_deref(),
        Some(
            &[
                HostEntry {
                    host: "192.168.0.1".into(),
                    tags: vec![]
                },
                HostEntry {
                    host: "192.168.0.2".into(),
                    tags: vec!["canary".into()]
                },
            ][..]
        )
    );
    // `<<: *web-options` merged into a role's options.
    assert_eq!(
        web.options.as_ref().and_then(|o| o.get("memory")),
        Some(&OptionValue::Value("2g".into()))
    );

    let RoleEntry::Role(workers) = role(&config, "workers") else {
        panic!("role map")
    };
    assert_eq!(workers.cmd.as_deref(), Some("bin/jobs"));
    assert_eq!(workers.proxy, Some(RoleProxy::Enabled(false)));
    assert_eq!(workers.stop_timeout, Some(60));
    let options = workers.options.as_ref().expect("options");
    assert_eq!(options["cpus"], OptionValue::Value("2".into()));
    assert_eq!(options["init"], OptionValue::Flag(true));
    assert_eq!(
        options["add-host"],
        OptionValue::Values(vec!["a:1.2.3.4".into(), "b:5.6.7.8".into()])
    );
    let workers_env = workers.env.as_ref().expect("env");
    assert!(workers_env.structured);
    assert_eq!(workers_env.secret, vec!["REDIS_URL".to_string()]);

    let env = config.env.as_ref().expect("env");
    assert!(env.structured);
    // Merged from the `x-` anchor; numbers and bools become their text.
    assert_eq!(env.clear["DATABASE_PORT"], "5432");
    assert_eq!(env.clear["RAILS_LOG_TO_STDOUT"], "1");
    assert_eq!(env.clear["DEBUG"], "false");
    assert_eq!(env.clear["RAILS_ENV"], "production");
    assert_eq!(
        env.secret,
        vec!["RAILS_MASTER_KEY", "DB_PASSWORD:MAIN_DB_PASSWORD"]
    );
    assert_eq!(env.tags["canary"].clear["FEATURE_X"], "on");
    assert!(!env.tags["canary"].structured);

    let builder = config.builder.as_ref().expect("builder");
    assert_eq!(
        builder.arch,
        Some(OneOrMany::Many(vec!["amd64".into(), "arm64".into()]))
    );
    assert_eq!(
        builder.args.as_ref().expect("args")["RUBY_VERSION"],
        "3.3.0"
    );
    assert_eq!(
        builder.cache.as_ref().and_then(|c| c.r#type.as_deref()),
        Some("registry")
    );
    assert_eq!(builder.provenance, Some(BoolOrString::Bool(false)));

    let proxy = config.proxy.as_ref().expect("proxy");
    assert_eq!(proxy.ssl, Some(ProxySsl::Enabled(true)));
    assert_eq!(proxy.host.as_deref(), Some("app.example.com"));
    assert_eq!(proxy.app_port, Some(3000));
    let healthcheck = proxy.healthcheck.as_ref().expect("healthcheck");
    assert_eq!(
        (healthcheck.interval, healthcheck.timeout),
        (Some(3), Some(5))
    );
    assert_eq!(healthcheck.path.as_deref(), Some("/up"));
    // Underscores in typed integers are accepted.
    assert_eq!(
        proxy.buffering.as_ref().and_then(|b| b.max_request_body),
        Some(40_000_000)
    );
    let run = proxy.run.as_ref().expect("run");
    assert_eq!(run.metrics_port, Some(9090));
    assert_eq!(
        run.options.as_ref().expect("options")["cpus"],
        OptionValue::Value("0.5".into())
    );

    let db = &config.accessories.as_ref().expect("accessories")["db"];
    assert_eq!(db.port.as_deref(), Some("5432"));
    assert_eq!(db.host.as_deref(), Some("192.168.0.9"));
    let files = db.files.as_ref().expect("files");
    assert_eq!(
        files[0],
        MountEntry::Short("config/init.sql:/docker-entrypoint-initdb.d/setup.sql".into())
    );
    let MountEntry::Full(spec) = &files[1] else {
        panic!("map form")
    };
    assert_eq!(
        spec.remote.as_deref(),
        Some("/etc/postgresql/postgresql.conf")
    );
    // A plain `0644` into a String field stays as written.
    assert_eq!(spec.mode.as_deref(), Some("0644"));
    assert_eq!(
        db.directories.as_ref().expect("directories")[0],
        MountEntry::Short("data:/var/lib/postgresql/data".into())
    );
    assert_eq!(
        db.env.as_ref().expect("env").secret,
        vec!["POSTGRES_PASSWORD"]
    );

    let boot = config.boot.as_ref().expect("boot");
    assert_eq!(boot.limit, Some(BootLimit::Percent(25)));
    assert_eq!(boot.wait, Some(2));

    assert_eq!(
        config.aliases.as_ref().expect("aliases")["console"],
        r#"app exec --interactive --reuse "bin/rails console""#
    );
    let ssh = config.ssh.as_ref().expect("ssh");
    assert_eq!(ssh.user.as_deref(), Some("deploy"));
    assert_eq!(ssh.proxy.as_deref(), Some("root@bastion.example.com"));
    assert_eq!(
        ssh.config,
        Some(SshConfigSetting::Paths(vec![
            "~/.ssh/config".into(),
            "~/.ssh/extra".into()
        ]))
    );
    assert_eq!(
        config.hooks_output,
        Some(HooksOutput::PerHook(BTreeMap::from([(
            "pre-deploy".to_string(),
            ":verbose".to_string()
        )])))
    );
    assert_eq!(config.retain_containers, Some(3));
}

#[test]
fn typical_kamal_config_round_trips() {
    round_trip(&parse(KAMAL_SAMPLE));
}

#[test]
fn list_form_servers_and_host_tags() {
    let config = parse("servers:\n  - a.example.com\n  - b.example.com: gpu\n  - c: [gpu, eu]\n");
    assert_eq!(
        config.servers,
        Some(Servers::Hosts(vec![
            HostEntry {
                host: "a.example.com".into(),
                tags: vec![]
            },
            HostEntry {
                host: "b.example.com".into(),
                tags: vec!["gpu".into()]
            },
            HostEntry {
                host: "c".into(),
                tags: vec!["gpu".into(), "eu".into()]
            },
        ]))
    );
    round_trip(&config);

    let config = parse("servers: [a, b]\n");
    assert_eq!(
        config.servers,
        Some(Servers::Hosts(vec![
            HostEntry {
                host: "a".into(),
                tags: vec![]
            },
            HostEntry {
                host: "b".into(),
                tags: vec![]
            },
        ]))
    );

    let config = parse("servers:\n  web: [a, b: blue]\n  jobs:\n    hosts: [c]\n");
    assert_eq!(
        role(&config, "web"),
        &RoleEntry::Hosts(vec![
            HostEntry {
                host: "a".into(),
                tags: vec![]
            },
            HostEntry {
                host: "b".into(),
                tags: vec!["blue".into()]
            },
        ])
    );
    round_trip(&config);
}

const HOIST_SAMPLE: &str = r#"
service: app
plugins:
  dir: plugins
  cache_dir: .hoist/cache
hooks:
  pre-build:
    - lint
  pre-deploy:
    - plugin: db-backup
      settings:
        bucket: s3://backups
        keep: 7
        mode: 0755
        compress: true
      grants:
        docker: read
        commands: [pg_dump]
        hosts: [db.internal]
        state: true
        http: ["https://s3.amazonaws.com"]
      limits:
        timeout: 5m
        memory: 64MiB
  post-deploy:
    - slack-notify
    - plugin: smoke-test
deploy:
  strategy: canary
  roll_back_on_failure: true
  release_command: bin/rails db:migrate
  release_command_timeout: 300
  strategies:
    canary:
      settings:
        percent: 10
        steps: [10, 50, 100]
      limits:
        timeout: 1h30m
"#;

#[test]
fn hoist_keys() {
    let config = parse(HOIST_SAMPLE);
    let plugins = config.plugins.as_ref().expect("plugins");
    assert_eq!(plugins.dir.as_deref(), Some("plugins"));
    assert_eq!(plugins.cache_dir.as_deref(), Some(".hoist/cache"));

    let hooks = config.hooks.as_ref().expect("hooks");
    assert_eq!(hooks.pre_build, Some(vec![HookEntry::Name("lint".into())]));
    let pre_deploy = hooks.pre_deploy.as_ref().expect("pre-deploy");
    let HookEntry::Use(backup) = &pre_deploy[0] else {
        panic!("map form")
    };
    assert_eq!(backup.plugin, "db-backup");
    let settings = backup.settings.as_ref().expect("settings");
    assert_eq!(settings["bucket"], serde_json::json!("s3://backups"));
    assert_eq!(settings["keep"], serde_json::json!(7));
    assert_eq!(settings["compress"], serde_json::json!(true));
    // Leading-zero numbers stay text instead of becoming the float 755.0.
    assert_eq!(settings["mode"], serde_json::json!("0755"));
    let grants = backup.grants.as_ref().expect("grants");
    assert_eq!(grants.docker.as_deref(), Some("read"));
    assert_eq!(grants.state, Some(true));
    let limits = backup.limits.as_ref().expect("limits");
    assert_eq!(
        limits.timeout.as_ref().map(DurationText::as_duration),
        Some(Ok(Duration::from_secs(300)))
    );
    assert_eq!(
        hooks.post_deploy,
        Some(vec![
            HookEntry::Name("slack-notify".into()),
            HookEntry::Use(Box::new(PluginUse {
                plugin: "smoke-test".into(),
                ..PluginUse::default()
            })),
        ])
    );

    let deploy = config.deploy.as_ref().expect("deploy");
    assert_eq!(deploy.strategy.as_deref(), Some("canary"));
    assert_eq!(deploy.roll_back_on_failure, Some(true));
    let timeout = deploy.release_command_timeout.as_ref().expect("timeout");
    assert_eq!(timeout.as_str(), "300");
    assert_eq!(timeout.as_duration(), Ok(Duration::from_secs(300)));
    let canary = &deploy.strategies.as_ref().expect("strategies")["canary"];
    assert_eq!(
        canary.settings.as_ref().expect("settings")["steps"],
        serde_json::json!([10, 50, 100])
    );
    assert_eq!(
        canary
            .limits
            .as_ref()
            .and_then(|l| l.timeout.as_ref())
            .map(DurationText::as_duration),
        Some(Ok(Duration::from_secs(5400)))
    );
    round_trip(&config);
}

#[test]
fn env_styles() {
    let config = parse("env:\n  PORT: 3000\n  FLAG: yes\n  NAME: app\n");
    let env = config.env.as_ref().expect("env");
    assert!(!env.structured);
    assert_eq!(env.clear["PORT"], "3000");
    assert_eq!(env.clear["FLAG"], "yes");
    let yaml = serde_saphyr::to_string(&config).expect("serialize");
    assert!(
        !yaml.contains("clear"),
        "simple env must stay simple:\n{yaml}"
    );
    round_trip(&config);

    // A structured env with nothing in it still reads back as structured.
    let config = parse("env:\n  secret: []\n");
    assert!(config.env.as_ref().expect("env").structured);
    round_trip(&config);
}

#[test]
fn secretable_and_scalars_round_trip() {
    let config = parse(
        "registry:\n  server: localhost:5555\n  username: [REG_USER]\n  password: \"12345\"\n\
             builder:\n  arch: arm64\n  sbom: generator=docker/scout\n",
    );
    let registry = config.registry.as_ref().expect("registry");
    assert_eq!(
        registry.username,
        Some(Secretable::Secret("REG_USER".into()))
    );
    assert_eq!(registry.password, Some(Secretable::Literal("12345".into())));
    let builder = config.builder.as_ref().expect("builder");
    assert_eq!(builder.arch, Some(OneOrMany::One("arm64".into())));
    assert_eq!(
        builder.sbom,
        Some(BoolOrString::Text("generator=docker/scout".into()))
    );
    round_trip(&config);
}

#[test]
fn durations() {
    for (text, expected) in [
        ("30", Duration::from_secs(30)),
        ("500ms", Duration::from_millis(500)),
        ("30s", Duration::from_secs(30)),
        ("5m", Duration::from_secs(300)),
        ("1h", Duration::from_secs(3600)),
        ("1h30m", Duration::from_secs(5400)),
    ] {
        assert_eq!(
            DurationText::new(text).and_then(|d| d.as_duration()),
            Ok(expected)
        );
    }
    for bad in ["", "  ", "soon", "-5s", "1.5s", "5 m", "m5", "5x", "s"] {
        assert!(
            DurationText::new(bad).is_err(),
            "{bad:?} should be rejected"
        );
    }
}

#[test]
fn boot_limits() {
    let limit = |text: &str| {
        parse(&format!("boot:\n  limit: {text}\n"))
            .boot
            .and_then(|b| b.limit)
    };
    assert_eq!(limit("3"), Some(BootLimit::Count(3)));
    assert_eq!(limit("\"3\""), Some(BootLimit::Count(3)));
    assert_eq!(limit("100%"), Some(BootLimit::Percent(100)));
    assert!(parse_str("boot:\n  limit: 0%\n").is_err());
    assert!(parse_str("boot:\n  limit: 150%\n").is_err());
    assert!(parse_str("boot:\n  limit: [1]\n").is_err());
    round_trip(&parse("boot:\n  limit: 25%\n"));
    round_trip(&parse("boot:\n  limit: 2\n"));
}

#[test]
fn empty_file_is_empty_config() {
    assert_eq!(parse(""), RawConfig::default());
    assert_eq!(parse("# only a comment\n"), RawConfig::default());
}

#[test]
fn x_keys_and_unknown_root_keys_are_ignored() {
    let config = parse("x-anchor: &a {memory: 1g}\nservice: s\nnot_a_key: 1\n");
    assert_eq!(config.service.as_deref(), Some("s"));
}

// ---- error locations ---------------------------------------------------------------

#[test]
fn unknown_key_in_role() {
    let text = "service: app\nservers:\n  web:\n    hosts: [a]\n    cmdd: x\n";
    let (line, column, msg) = parse_err(text);
    assert_eq!((line, column), (5, 5), "{msg}");
    assert!(msg.starts_with("unknown field `cmdd`"), "{msg}");
    assert!(msg.ends_with("at line 5, column 5"), "{msg}");
}

#[test]
fn unknown_key_in_proxy() {
    let (line, column, msg) = parse_err("proxy:\n  host: a.example.com\n  app_prot: 3000\n");
    assert_eq!((line, column), (3, 3), "{msg}");
    assert!(msg.starts_with("unknown field `app_prot`"), "{msg}");
}

#[test]
fn unknown_key_in_role_proxy_and_accessory() {
    let text = "servers:\n  web:\n    proxy:\n      hots: [a]\n";
    let (line, column, msg) = parse_err(text);
    assert_eq!((line, column), (4, 7), "{msg}");
    let text = "accessories:\n  db:\n    image: mysql\n    ports: [1]\n";
    let (line, column, msg) = parse_err(text);
    assert_eq!((line, column), (4, 5), "{msg}");
}

#[test]
fn unknown_hook_stage() {
    let (line, column, msg) = parse_err("hooks:\n  pre-build: [a]\n  pre-boot: [b]\n");
    assert_eq!((line, column), (3, 3), "{msg}");
    assert!(
        msg.starts_with(
            "unknown field `pre-boot`, expected one of pre-connect, pre-build, pre-deploy, pre-app-boot, post-app-boot, post-deploy, pre-proxy-reboot, post-proxy-reboot, docker-setup"
        ),
        "{msg}"
    );
}

#[test]
fn unknown_key_in_plugin_use() {
    let text = "hooks:\n  post-deploy:\n    - plugin: x\n      setings: {}\n";
    let (line, column, msg) = parse_err(text);
    assert_eq!((line, column), (4, 7), "{msg}");
    assert!(msg.starts_with("unknown field `setings`"), "{msg}");
}

#[test]
fn wrong_scalar_type() {
    let (line, column, msg) = parse_err("service: app\nretain_containers: lots\n");
    assert_eq!((line, column), (2, 20), "{msg}");
    assert_eq!(msg, "invalid u32 at line 2, column 20");
}

#[test]
fn list_where_map_expected() {
    let (line, column, msg) = parse_err("service: app\nregistry: [a]\n");
    assert_eq!((line, column), (2, 11), "{msg}");
    assert!(msg.contains("mapping"), "{msg}");
}

#[test]
fn bad_boot_limit() {
    let (line, column, msg) = parse_err("boot:\n  limit: lots\n");
    assert_eq!((line, column), (2, 10), "{msg}");
    assert_eq!(
        msg,
        "boot.limit must be a number of hosts or a percentage like \"25%\", \
             found string \"lots\" at line 2, column 10"
    );
}

#[test]
fn bad_duration() {
    let (line, column, msg) = parse_err("deploy:\n  release_command_timeout: soon\n");
    assert_eq!((line, column), (2, 28), "{msg}");
    assert!(msg.starts_with("invalid duration \"soon\""), "{msg}");

    let text = "hooks:\n  pre-build:\n    - plugin: p\n      limits:\n        timeout: 5 days\n";
    let (line, column, msg) = parse_err(text);
    assert_eq!((line, column), (5, 18), "{msg}");
}

#[test]
fn wrong_shape_in_custom_visitor_points_at_value() {
    // A string where a host list or role map is expected.
    let (line, column, msg) = parse_err("servers:\n  web: 1.2.3.4\n");
    assert_eq!((line, column), (2, 8), "{msg}");
    assert!(
        msg.starts_with("invalid type: string \"1.2.3.4\", expected a list of hosts"),
        "{msg}"
    );
    // A map where a bool or proxy map is fine, but a string is not.
    let (line, column, _) = parse_err("servers:\n  web:\n    proxy: yes please\n");
    assert_eq!((line, column), (3, 12));
}

#[test]
fn errors_inside_forwarded_sequences_keep_locations() {
    // A wrong type deep inside a role host list, read through SeqAccessDeserializer.
    let text = "servers:\n  web:\n    hosts:\n      - a\n      - {b: x, c: y}\n";
    let (line, column, msg) = parse_err(text);
    assert_eq!((line, column), (5, 9), "{msg}");
    assert!(msg.contains("single `host: tag`"), "{msg}");
    // A number that does not fit, inside a role's proxy map.
    let text = "servers:\n  web:\n    proxy:\n      app_port: 70000\n";
    let (line, column, msg) = parse_err(text);
    assert_eq!((line, column), (4, 17), "{msg}");
}

#[test]
fn secret_list_must_have_one_name() {
    let (line, column, msg) = parse_err("registry:\n  password: [A, B]\n");
    assert_eq!((line, column), (2, 13), "{msg}");
    assert!(msg.contains("exactly one secret name"), "{msg}");
}

#[test]
fn mixed_env_styles() {
    // Structured first, then a plain variable: the plain key is reported.
    let (line, column, msg) = parse_err("env:\n  clear:\n    A: b\n  PORT: 1\n");
    assert_eq!((line, column), (4, 3), "{msg}");
    assert!(
        msg.starts_with("unknown field `PORT`, expected one of clear, secret, tags"),
        "{msg}"
    );
    // Plain first, then a structured key: the structured key is reported.
    let (line, column, msg) = parse_err("env:\n  PORT: 1\n  secret: [A]\n");
    assert_eq!((line, column), (3, 3), "{msg}");
    assert!(msg.contains("\"secret\""), "{msg}");
}

#[test]
fn duplicate_keys_are_errors() {
    let (line, _, msg) = parse_err("service: a\nservice: b\n");
    assert_eq!(line, 2, "{msg}");
}

#[test]
fn command_grants_name_where_they_run() {
    use crate::capabilities::{CommandRule, Place};
    let config = parse(
        "hooks:\n  pre-deploy:\n    - plugin: p\n      grants:\n        commands:\n          - git status *\n          - { run: uptime, on: servers }\n          - { run: reload, on: \"web-*\", roles: [web] }\n",
    );
    round_trip(&config);
    let hooks = config.hooks.as_ref().unwrap();
    let Some(HookEntry::Use(u)) = hooks.pre_deploy.as_ref().unwrap().first() else {
        panic!("expected a use");
    };
    let commands = u.grants.as_ref().unwrap().commands.clone().unwrap();
    assert_eq!(
        commands,
        vec![
            CommandRule::local("git status *"),
            CommandRule::servers("uptime"),
            CommandRule {
                run: "reload".into(),
                on: Place::Hosts("web-*".into()),
                roles: vec!["web".into()],
            },
        ]
    );
    let (line, _, msg) = parse_err(
        "hooks:\n  pre-deploy:\n    - plugin: p\n      grants:\n        commands:\n          - { run: reload, roles: [web] }\n",
    );
    assert_eq!(line, 6, "{msg}");
    assert!(msg.contains("`roles` applies to servers"), "{msg}");
    let (line, _, msg) = parse_err(
        "hooks:\n  pre-deploy:\n    - plugin: p\n      grants:\n        commands:\n          - { command: reload }\n",
    );
    assert_eq!(line, 6, "{msg}");
    assert!(msg.contains("unknown field `command`"), "{msg}");
}
