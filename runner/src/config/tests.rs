use std::time::Duration;

use super::*;
use crate::stage::HookPoint;

struct App {
    dir: tempfile::TempDir,
}

impl App {
    fn new(files: &[(&str, &str)]) -> App {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("config")).unwrap();
        for (name, text) in files {
            std::fs::write(dir.path().join("config").join(name), text).unwrap();
        }
        App { dir }
    }

    fn load(&self, destination: Option<&str>) -> Result<Config, ConfigError> {
        self.load_with(destination, Default::default())
    }

    fn load_with(
        &self,
        destination: Option<&str>,
        erb: erb::Engine,
    ) -> Result<Config, ConfigError> {
        load(&LoadOptions {
            config_file: self.dir.path().join("config/deploy.yml"),
            destination: destination.map(String::from),
            erb,
        })
    }
}

const BASE: &str = "service: hello
image: hello
servers:
  web:
    hosts: [local]
    options:
      memory: 64m
      init: true
  workers:
    hosts: [local]
    cmd: /hello work --fast
env:
  clear:
    MODE: ok
  secret:
    - API_KEY
    - DB_PASSWORD:MAIN_DB_PASSWORD
registry:
  server: localhost:5555
  password: [REGISTRY_PASSWORD]
builder:
  args:
    TOKEN: abc
readiness_delay: 1
hooks:
  pre-build:
    - git-clean
  post-deploy:
    - plugin: deploy-log
      limits: { timeout: 5s, memory: 32MiB }
deploy:
  strategies:
    rolling:
      settings: { note: hi }
";

#[test]
fn resolves_a_kamal_style_config() {
    let app = App::new(&[("deploy.yml", BASE)]);
    let c = app.load(None).unwrap();
    assert_eq!(c.service, "hello");
    assert_eq!(c.repository.tagged("v1"), "localhost:5555/hello:v1");
    assert_eq!(c.primary_role, "web");
    assert_eq!(c.roles[0].name, "web");
    assert_eq!(
        c.roles[0].options,
        vec![("init".into(), None), ("memory".into(), Some("64m".into()))]
    );
    assert_eq!(c.roles[0].restart, "unless-stopped");
    assert!(c.roles[0].proxied() && !c.roles[1].proxied());
    assert_eq!(c.roles[1].cmd, vec!["/hello", "work", "--fast"]);
    assert_eq!(
        c.roles[1].env.secret,
        vec![
            ("API_KEY".to_string(), "API_KEY".to_string()),
            ("DB_PASSWORD".to_string(), "MAIN_DB_PASSWORD".to_string())
        ]
    );
    assert_eq!(c.readiness_delay, Duration::from_secs(1));
    assert_eq!(c.deploy_timeout, Duration::from_secs(30));
    assert_eq!(c.app_root, app.dir.path());
    assert_eq!(c.plugins_dir, app.dir.path().join(".hoist/plugins"));
    assert_eq!(c.hooks[&HookPoint::PreBuild][0].plugin, "git-clean");
    let log = &c.hooks[&HookPoint::PostDeploy][0];
    assert_eq!(log.timeout, Some(Duration::from_secs(5)));
    assert_eq!(log.memory, Some(32 << 20));
    assert_eq!(log.key_path, "hooks.post-deploy[0]");
    assert_eq!(c.strategy, "rolling");
    assert_eq!(c.strategy_use("rolling").settings["note"], "hi");
    let yaml = redacted_yaml(&c);
    assert!(yaml.contains("REGISTRY_PASSWORD"), "{yaml}");
    assert!(!yaml.contains("abc"), "build args are redacted: {yaml}");
    // What plugins read has no plugin's settings or grants.
    let view = super::plugin_view_json(&c);
    assert!(super::lookup(&view, "deploy.strategies.rolling.settings").is_none());
    assert!(super::lookup(&view, "deploy.strategies.rolling.settings.note").is_none());
    let hook = super::lookup(&view, "hooks.post-deploy.0").expect("the hook entry stays");
    assert!(hook.get("settings").is_none() && hook.get("grants").is_none());
    assert_eq!(super::lookup(&view, "service").unwrap(), "hello");
}

#[test]
fn unknown_nested_key_has_file_line_column() {
    let app = App::new(&[(
        "deploy.yml",
        "service: hello\nimage: hello\nservers:\n  web:\n    hots: [local]\n",
    )]);
    let e = app.load(None).unwrap_err().to_string();
    assert!(e.contains("config/deploy.yml:5:5:"), "{e}");
    assert!(e.contains("unknown field `hots`"), "{e}");
}

#[test]
fn unknown_root_key_has_line_and_hint() {
    let app = App::new(&[(
        "deploy.yml",
        "service: hello\nimage: hello\nservers: [local]\nretain_containerz: 3\nx-anchor: &a {}\n",
    )]);
    let e = app.load(None).unwrap_err().to_string();
    assert!(e.contains("config/deploy.yml:4:1: unknown key `retain_containerz` (did you mean `retain_containers`?)"), "{e}");
}

#[test]
fn wrong_type_has_file_line_column() {
    let app = App::new(&[(
        "deploy.yml",
        "service: hello\nimage: hello\nservers: [local]\nretain_containers: lots\n",
    )]);
    let e = app.load(None).unwrap_err().to_string();
    assert!(e.contains("config/deploy.yml:4:20: invalid u32"), "{e}");
}

#[test]
fn missing_key_names_the_key() {
    let app = App::new(&[("deploy.yml", "image: hello\nservers: [local]\n")]);
    let e = app.load(None).unwrap_err().to_string();
    assert!(e.contains("deploy.yml:1:1: `service`: missing"), "{e}");
    let app = App::new(&[("deploy.yml", "service: hello\nimage: hello\n")]);
    let e = app.load(None).unwrap_err().to_string();
    assert!(e.contains("deploy.yml:1:1: `servers`: missing"), "{e}");
    // A bad value after merging points at the key in the file that set it.
    let app = App::new(&[
        (
            "deploy.yml",
            "service: hello\nimage: hello\nservers: [local]\n",
        ),
        (
            "deploy.staging.yml",
            "proxy:\n  host: a.test\n  path_prefix: api\n",
        ),
    ]);
    let e = app.load(Some("staging")).unwrap_err().to_string();
    assert!(
        e.contains("deploy.staging.yml:3:3: `proxy.path_prefix`: `api` must start with `/`"),
        "{e}"
    );
}

#[test]
fn destination_merges_and_missing_destination_is_named() {
    let app = App::new(&[
        ("deploy.yml", BASE),
        (
            "deploy.staging.yml",
            "servers:\n  web:\n    hosts: [local]\nenv:\n  clear:\n    MODE: staging\nreadiness_delay: 2\n",
        ),
    ]);
    let c = app.load(Some("staging")).unwrap();
    assert_eq!(c.destination.as_deref(), Some("staging"));
    assert_eq!(c.roles.len(), 2, "maps deep-merge: workers stay");
    assert_eq!(c.roles[0].env.clear["MODE"], "staging");
    assert_eq!(c.readiness_delay, Duration::from_secs(2));
    assert_eq!(
        c.roles[0].options.len(),
        2,
        "web's options survive the merge"
    );
    assert!(c.secrets_files[1].ends_with(".hoist/secrets.staging"));
    let e = app.load(Some("prod")).unwrap_err().to_string();
    assert!(
        e.contains("destination `prod` not found") && e.contains("deploy.prod.yml"),
        "{e}"
    );
    // A bad key in the destination file names that file.
    let app = App::new(&[
        ("deploy.yml", BASE),
        ("deploy.staging.yml", "\nboot:\n  limits: 2\n"),
    ]);
    let e = app.load(Some("staging")).unwrap_err().to_string();
    assert!(
        e.contains("deploy.staging.yml:3:3: unknown field `limits`"),
        "{e}"
    );
}

#[test]
fn erb_env_is_rendered() {
    // SAFETY: tests in this module do not read this variable concurrently.
    unsafe { std::env::set_var("HOIST_TEST_IMAGE", "from-env") };
    let app = App::new(&[(
        "deploy.yml",
        "service: hello\nimage: <%= ENV[\"HOIST_TEST_IMAGE\"] %>\nservers: [local]\n",
    )]);
    assert_eq!(app.load(None).unwrap().image, "from-env");
    let app = App::new(&[(
        "deploy.yml",
        "service: hello\n\nimage: <%= ENV.fetch(\"HOIST_TEST_UNSET\") %>\n",
    )]);
    let e = app.load(None).unwrap_err().to_string();
    assert!(
        e.contains("deploy.yml:3:") && e.contains("HOIST_TEST_UNSET"),
        "{e}"
    );
}

#[test]
fn bad_grant_and_limit_values_name_the_key() {
    let app = App::new(&[(
        "deploy.yml",
        "service: hello\nimage: hello\nservers: [local]\nhooks:\n  pre-deploy:\n    - plugin: x\n      grants: { docker: admin }\n",
    )]);
    let e = app.load(None).unwrap_err().to_string();
    assert!(
        e.contains("`hooks.pre-deploy[0].grants.docker`: `admin` is not one of none, read, write"),
        "{e}"
    );
}

#[test]
fn proxy_keys_resolve_per_role() {
    let app = App::new(&[(
        "deploy.yml",
        "service: hello
image: hello
servers:
  web: [local]
  api:
    hosts: [local]
    proxy:
      host: api.example.com
      path_prefix: /v1
      strip_path_prefix: false
  workers:
    hosts: [local]
proxy:
  hosts: [example.com, www.example.com]
  app_port: 3000
  healthcheck: { path: /health, interval: 2, timeout: 3 }
  response_timeout: 60
  run: { http_port: 8080, bind_ips: [10.0.0.1] }
",
    )]);
    let c = app.load(None).unwrap();
    let web = c.role("web").unwrap().proxy.clone().unwrap();
    assert_eq!(web.hosts, vec!["example.com", "www.example.com"]);
    assert_eq!(web.app_port, 3000);
    assert_eq!(web.path_prefixes, vec!["/"]);
    assert_eq!(web.health_path, "/health");
    assert_eq!(web.health_interval, Duration::from_secs(2));
    assert_eq!(web.health_timeout, Duration::from_secs(3));
    assert_eq!(web.response_timeout, Duration::from_secs(60));
    // The role's map wins per key, the rest comes from the root.
    let api = c.role("api").unwrap().proxy.clone().unwrap();
    assert_eq!(api.hosts, vec!["api.example.com"]);
    assert_eq!(api.app_port, 3000);
    assert_eq!(api.path_prefixes, vec!["/v1"]);
    assert!(!api.strip_path_prefix);
    assert!(c.role("workers").unwrap().proxy.is_none());
    assert_eq!(c.proxy_run.http_port, 8080);
    assert_eq!(c.proxy_run.https_port, 443);
    assert_eq!(c.proxy_run.bind_ips, vec!["10.0.0.1"]);
}

#[test]
fn proxy_mistakes_name_the_key() {
    for (proxy, expect) in [
        (
            "ssl: { certificate_pem: CERT }",
            "needs both certificate_pem and private_key_pem",
        ),
        (
            "ssl: { certificate_pem: C, private_key_pem: K }",
            "TLS needs the host name(s)",
        ),
        ("path_prefix: api", "`api` must start with `/`"),
    ] {
        let app = App::new(&[(
            "deploy.yml",
            &format!("service: hello\nimage: hello\nservers: [local]\nproxy: {{ {proxy} }}\n"),
        )]);
        let e = app.load(None).unwrap_err().to_string();
        assert!(e.contains(expect), "{proxy}: {e}");
    }
}

#[test]
fn release_command_is_split_with_a_default_timeout() {
    let app = App::new(&[(
        "deploy.yml",
        "service: hello\nimage: hello\nservers: [local]\ndeploy:\n  release_command: bin/rails db:migrate \"VERBOSE=1\"\n",
    )]);
    let c = app.load(None).unwrap();
    assert_eq!(
        c.release_command,
        Some(vec![
            "bin/rails".into(),
            "db:migrate".into(),
            "VERBOSE=1".into()
        ])
    );
    assert_eq!(c.release_command_timeout, Duration::from_secs(300));
    let app = App::new(&[(
        "deploy.yml",
        "service: hello\nimage: hello\nservers: [local]\ndeploy:\n  release_command: \"'unbalanced\"\n",
    )]);
    let e = app.load(None).unwrap_err().to_string();
    assert!(e.contains("`deploy.release_command`"), "{e}");
}

/// A config in the shape `kamal init` and Rails generate, with the ERB real
/// ones hold: in a comment, literals, `||`, ternaries, code tags, backticks,
/// and empty sections.
const KAMAL_SHAPED: &str = r##"# Name of your application. Used to uniquely configure containers.
service: <%= "my-app" %>
image: <%= ENV["HOIST_T_NOPE_USER"] || "my-user" %>/my-app
<% if ENV["KAMAL_DESTINATION"] == "staging" %>
servers:
  web:
    - <%= ENV.fetch("HOIST_T_NOPE_HOST", "local") %>
<% else %>
servers:
  web:
    hosts:
      - local
  job:
    hosts: [local]
    cmd: bin/jobs
<% end %>
registry:
  username: <%= ENV.fetch("HOIST_T_NOPE_REG", 'nologin') %>
  password:
    - KAMAL_REGISTRY_PASSWORD
env:
  secret:
  clear:
    WEB_CONCURRENCY: <%= ENV["HOIST_T_NOPE_N"] ? 4 : 2 %>
    REVISION: <%= `echo abc123`.strip %>
    GREETING: "hello #{name}"
#   RUBY_VERSION: <%= ENV["RBENV_VERSION"] || ENV["rvm_ruby_string"] || "#{RUBY_ENGINE}-#{RUBY_ENGINE_VERSION}" %>
#   BROKEN: <%= ENV.fetch("HOIST_T_NOPE_IN_COMMENT") %>
aliases:
  console: app exec --interactive --reuse "bin/rails console"
builder:
  arch: amd64
"##;

#[test]
fn kamal_shaped_configs_load_with_either_erb() {
    let app = App::new(&[
        ("deploy.yml", KAMAL_SHAPED),
        ("deploy.staging.yml", "env:\n  clear:\n"),
    ]);
    let mut engines = vec![erb::Engine::Subset];
    if std::process::Command::new("ruby")
        .arg("-v")
        .output()
        .is_ok()
    {
        engines.push(erb::Engine::Ruby);
    }
    for engine in engines {
        let c = app
            .load_with(None, engine)
            .unwrap_or_else(|e| panic!("{engine:?}: {e}"));
        assert_eq!(c.service, "my-app", "{engine:?}");
        assert_eq!(c.image, "my-user/my-app", "{engine:?}");
        let roles: Vec<&str> = c.roles.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(roles, ["web", "job"], "{engine:?}");
        let web = &c.roles[0];
        assert_eq!(
            web.env.clear.get("WEB_CONCURRENCY").map(String::as_str),
            Some("2")
        );
        assert_eq!(
            web.env.clear.get("REVISION").map(String::as_str),
            Some("abc123")
        );
        assert_eq!(
            web.env.clear.get("GREETING").map(String::as_str),
            Some("hello #{name}")
        );
        let c = app
            .load_with(Some("staging"), engine)
            .unwrap_or_else(|e| panic!("{engine:?}: {e}"));
        let roles: Vec<&str> = c.roles.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            roles,
            ["web"],
            "{engine:?}: the destination took the other branch"
        );
    }
}

#[test]
fn empty_values_and_hosts_are_explained() {
    let app = App::new(&[(
        "deploy.yml",
        "service: a\nimage: a\nservers: [local]\nenv:\n  clear:\n    A:\n",
    )]);
    let e = app.load(None).unwrap_err().to_string();
    assert!(
        e.contains("deploy.yml:6:")
            && e.contains("expected a string, found an empty value; quote the value"),
        "{e}"
    );
    let app = App::new(&[(
        "deploy.yml",
        "service: a\nimage: a\nservers:\n  - <%= ENV[\"HOIST_T_NOPE_HOST\"] %>\n",
    )]);
    for engine in [erb::Engine::Subset, erb::Engine::Auto] {
        let e = app.load_with(None, engine).unwrap_err().to_string();
        assert!(
            e.contains("deploy.yml:4:")
                && e.contains("`<%= ENV[\"HOIST_T_NOPE_HOST\"] %>` rendered empty"),
            "{e}"
        );
    }
    let app = App::new(&[
        ("deploy.yml", "require_destination: true\n"),
        ("deploy.mars.yml", "service: a\n"),
    ]);
    let e = app.load(None).unwrap_err().to_string();
    assert!(
        e.contains("deploy.yml:1:1: `require_destination`")
            && e.contains("pass -d")
            && e.contains("here: mars"),
        "{e}"
    );
}

#[test]
fn an_empty_section_followed_by_many_comment_lines_loads() {
    // `kamal init`'s template with `builder:`'s keys commented out: every
    // comment line after it (over a hundred) is read past, not buffered.
    let comments = "# a comment line\n".repeat(300);
    let app = App::new(&[(
        "deploy.yml",
        &format!("service: a\nimage: a\nservers:\n  - h\nbuilder:\n{comments}env:\n{comments}"),
    )]);
    let c = app.load(None).unwrap();
    assert_eq!(c.service, "a");
}

#[test]
fn ssl_true_orders_from_lets_encrypt_or_the_named_directory() {
    // Kamal's template says `ssl: true`: certificates from Let's Encrypt.
    let app = App::new(&[(
        "deploy.yml",
        "service: hello\nimage: hello\nservers: [local]\nproxy:\n  ssl: true\n  host: app.example.com\n",
    )]);
    let c = app.load(None).unwrap();
    assert!(c.refusals.is_empty(), "{:?}", c.refusals);
    let spec = c.roles[0].proxy.as_ref().unwrap();
    assert!(spec.tls.is_none());
    let acme = spec.automatic_tls.as_ref().unwrap();
    assert_eq!(
        acme.directory,
        "https://acme-v02.api.letsencrypt.org/directory"
    );
    assert_eq!(acme.ca_pem, None);
    // hoist's `proxy.acme` names another directory and the CA it trusts.
    let app = App::new(&[
        (
            "deploy.yml",
            "service: hello\nimage: hello\nservers: [local]\nproxy:\n  ssl: true\n  host: app.example.com\n  acme:\n    directory: https://ca.internal/dir\n    ca_bundle: ca.pem\n    contact: ops@example.com\n",
        ),
        (
            "../ca.pem",
            "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n",
        ),
    ]);
    let c = app.load(None).unwrap();
    let acme = c.roles[0]
        .proxy
        .as_ref()
        .unwrap()
        .automatic_tls
        .clone()
        .unwrap();
    assert_eq!(acme.directory, "https://ca.internal/dir");
    assert!(acme.ca_pem.unwrap().contains("BEGIN CERTIFICATE"));
    assert_eq!(acme.contact.as_deref(), Some("ops@example.com"));
    // Without a host, with a wildcard, or with a missing bundle: errors at the key.
    for (proxy, want) in [
        (
            "  ssl: true\n",
            "`proxy.ssl`: `ssl: true` orders a certificate per host name",
        ),
        (
            "  ssl: true\n  host: \"*.example.com\"\n",
            "cannot get a certificate for `*.example.com`",
        ),
        (
            "  ssl: true\n  host: a.example.com\n  acme:\n    ca_bundle: nope.pem\n",
            "`proxy.acme.ca_bundle`: cannot read",
        ),
        (
            "  ssl: true\n  host: a.example.com\n  acme:\n    directory: http://plain/dir\n",
            "must be an https:// URL",
        ),
        (
            "  ssl: true\n  host: a.example.com\n  acme:\n    challenge: dns-01\n",
            "`proxy.acme.challenge`: `dns-01`: use `http-01`",
        ),
    ] {
        let app = App::new(&[(
            "deploy.yml",
            &format!("service: hello\nimage: hello\nservers: [local]\nproxy:\n{proxy}"),
        )]);
        let e = app.load(None).unwrap_err().to_string();
        assert!(e.contains(want), "{proxy}: {e}");
        assert!(e.contains("deploy.yml:"), "{e}");
    }
}

#[test]
fn newer_kamal_keys_load_with_a_note_or_a_named_refusal() {
    // Keys from Kamal's main branch (newer than its documented release) load:
    // the ones hoist cannot honour without deploying something else refuse
    // deploys at their line, the others each give a note.
    let app = App::new(&[(
        "deploy.yml",
        "service: a\nimage: a\ncontainer_engine: podman\nservers:\n  web:\n    hosts: [h1, h2]\n    rollout:\n      cmd: bin/x\n    proxy:\n      loadbalancer: lb.example.com\npush_env: clear\npost_deploy_lock: true\nrollout:\n  max_percent: 10\nboot:\n  group_limit: 2\n  role_order: [web]\nbuilder:\n  engine: apple-container\nproxy:\n  idle:\n    timeout: 60\n  shm_size: 1g\naccessories:\n  db:\n    image: x\n    host: h1\n    files:\n      - local: conf\n        remote: /etc/conf\n        file_mode: \"0640\"\n",
    )]);
    let c = app.load(None).unwrap();
    let refusals: Vec<String> = c.refusals.iter().map(ToString::to_string).collect();
    assert_eq!(refusals.len(), 2, "{refusals:#?}");
    assert!(
        refusals[0].contains("deploy.yml:3:1: `container_engine`: hoist drives Docker Engines")
            && refusals[0].contains("not `podman`"),
        "{refusals:#?}"
    );
    assert!(
        refusals[1].contains("deploy.yml:10:7: `servers.web.proxy.loadbalancer`: Kamal's load balancer (a proxy on `lb.example.com`"),
        "{refusals:#?}"
    );
    for key in [
        "`rollout` is ignored",
        "`servers.web.rollout` is ignored",
        "`push_env` is ignored",
        "`post_deploy_lock` is ignored",
        "`boot.group_limit/group_wait` is ignored",
        "`boot.role_order` is ignored",
        "`builder.engine` is ignored",
        "proxy.idle (",
        "proxy.shm_size (",
        "accessories are accepted but not booted",
    ] {
        assert!(
            c.notes.iter().any(|n| n.starts_with(key)),
            "{key}: {:#?}",
            c.notes
        );
    }
    // `container_engine: docker` is what hoist does anyway.
    let app = App::new(&[(
        "deploy.yml",
        "service: a\nimage: a\ncontainer_engine: docker\nservers: [h]\n",
    )]);
    let c = app.load(None).unwrap();
    assert!(c.refusals.is_empty() && c.notes.is_empty(), "{:?}", c.notes);
}
