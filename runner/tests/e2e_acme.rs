//! End-to-end, `proxy.ssl: true` on the test bed against Pebble (Let's
//! Encrypt's test CA, Debian package `pebble`) running in a container on the
//! bed's network, with real HTTP-01 validation: Pebble resolves the app
//! names to server 3 and fetches the tokens from its hoist-proxy on port 80.
//! Two apps with their own names on one server's proxy each get a
//! certificate; curl trusting Pebble's root answers over HTTPS; HTTP
//! redirects; a redeploy and a proxy reboot order nothing new.

mod support;

use std::net::IpAddr;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use support::App;
use support::testbed::{Bed, bed, bed_app, exclusive};

const SERVER: usize = 2;

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker").args(args).output().unwrap();
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// `(network, address)` of a container on the bed's network.
fn address(container: &str) -> (String, IpAddr) {
    let out = docker(&[
        "inspect",
        "-f",
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{$v.IPAddress}}\n{{end}}",
        container,
    ]);
    let line = out
        .lines()
        .find(|l| l.starts_with("hoist-testbed"))
        .unwrap_or(&out);
    let (net, ip) = line.split_once(' ').unwrap();
    (net.to_string(), ip.trim().parse().unwrap())
}

/// Pebble in a container on the bed's network; removed on drop.
struct Pebble {
    name: String,
    dir: tempfile::TempDir,
    ip: IpAddr,
    management: String,
}

impl Drop for Pebble {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["rm", "-f", &self.name])
            .output();
    }
}

impl Pebble {
    /// Starts Pebble validating the given names at `target` (their
    /// HTTP-01 and TLS-ALPN-01 on the proxy's ports 80 and 443).
    fn start(b: &Bed, names: &[&str], target: IpAddr) -> Pebble {
        let name = format!("hoist-tb-pebble-{}", std::process::id());
        let dir = tempfile::tempdir().unwrap();
        let _ = Command::new("docker").args(["rm", "-f", &name]).output();
        let (net, _) = address(&b.names[SERVER]);
        let mut args: Vec<String> = ["run", "-d", "--name", &name, "--network", &net]
            .iter()
            .map(|s| s.to_string())
            .collect();
        for n in names {
            args.push("--add-host".into());
            args.push(format!("{n}:{target}"));
        }
        args.extend(
            [
                "-v",
                "/usr/bin/pebble:/usr/bin/pebble:ro",
                "-v",
                &format!("{}:/etc/pebble:ro", dir.path().display()),
                "-e",
                "PEBBLE_VA_NOSLEEP=1",
                "-p",
                "127.0.0.1::15000",
                &b.image,
                "sh",
                "-c",
                "while [ ! -f /etc/pebble/ready ]; do sleep 0.1; done; exec pebble -config /etc/pebble/config.json",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        docker(&argv);
        let (_, ip) = address(&name);
        write_api_cert(dir.path(), ip);
        std::fs::write(
            dir.path().join("config.json"),
            serde_json::json!({"pebble": {
                "listenAddress": "0.0.0.0:14000",
                "managementListenAddress": "0.0.0.0:15000",
                "certificate": "/etc/pebble/api.pem",
                "privateKey": "/etc/pebble/api.key",
                "httpPort": 80,
                "tlsPort": 443,
                "ocspResponderURL": "",
                "externalAccountBindingRequired": false,
            }})
            .to_string(),
        )
        .unwrap();
        std::fs::write(dir.path().join("ready"), "").unwrap();
        let management = docker(&["port", &name, "15000/tcp"]);
        let p = Pebble {
            name,
            dir,
            ip,
            management,
        };
        for _ in 0..100 {
            if p.root().is_ok() {
                return p;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("Pebble did not start: {}", p.logs());
    }

    fn directory(&self) -> String {
        format!("https://{}:14000/dir", self.ip)
    }

    fn ca(&self) -> std::path::PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// Pebble's root (signs what it issues).
    fn root(&self) -> Result<String, String> {
        curl_https(
            &self.ca(),
            &[],
            &format!("https://{}/roots/0", self.management),
        )
    }

    fn logs(&self) -> String {
        let out = Command::new("docker")
            .args(["logs", &self.name])
            .output()
            .unwrap();
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    }

    fn issued(&self) -> usize {
        self.logs().matches("Issued certificate").count()
    }
}

/// A CA, and a certificate for Pebble's API at `ip` (and 127.0.0.1, where
/// the test reads its root) signed by it.
fn write_api_cert(dir: &Path, ip: IpAddr) {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyPair, SanType};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "hoist e2e CA");
    let ca = ca_params.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let mut params = CertificateParams::new(vec!["pebble".to_string()]).unwrap();
    params.distinguished_name.push(DnType::CommonName, "pebble");
    params.subject_alt_names.push(SanType::IpAddress(ip));
    params
        .subject_alt_names
        .push(SanType::IpAddress("127.0.0.1".parse().unwrap()));
    let leaf = params.signed_by(&key, &ca, &ca_key).unwrap();
    std::fs::write(dir.join("api.pem"), leaf.pem()).unwrap();
    std::fs::write(dir.join("api.key"), key.serialize_pem()).unwrap();
    std::fs::write(dir.join("ca.pem"), ca.pem()).unwrap();
}

/// Configures `app` on the server with `ssl: true` for its host name,
/// ordering from Pebble.
fn use_pebble(app: &App, pebble: &Pebble) {
    let b = bed();
    let kh = app.path().join("known_hosts");
    let host = app.host_name();
    std::fs::copy(pebble.ca(), app.path().join("pebble-ca.pem")).unwrap();
    app.config(&format!(
        "servers:\n  web:\n    hosts: [{}]\n{}readiness_delay: 1\nproxy:\n  host: {host}\n  ssl: true\n  acme:\n    directory: {}\n    ca_bundle: pebble-ca.pem\n    contact: ops@hoist.test\n",
        b.servers[SERVER],
        b.ssh_yaml(&kh, ""),
        pebble.directory()
    ));
}

/// curl over HTTPS by name through the server's published 443, trusting
/// only `root`: the body.
fn https(b: &Bed, host: &str, root: &Path) -> Result<String, String> {
    let port = b.https[SERVER].rsplit(':').next().unwrap();
    curl_https(
        root,
        &["--resolve", &format!("{host}:{port}:127.0.0.1")],
        &format!("https://{host}:{port}/"),
    )
}

/// `curl` of an https `url` trusting only the CA in `ca`: the body, or
/// curl's error.
fn curl_https(ca: &Path, extra: &[&str], url: &str) -> Result<String, String> {
    let out = Command::new("curl")
        .args(["-sS", "--fail", "--cacert"])
        .arg(ca)
        .args(extra)
        .arg(url)
        .output()
        .unwrap();
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

/// The acceptance run.
#[test]
fn ssl_true_gets_certificates_from_pebble_and_keeps_them() {
    // Alone: a proxy reboot interrupts the server's other apps.
    let _g = exclusive();
    let b = bed();
    let (_, server_ip) = address(&b.names[SERVER]);
    let (one, _) = bed_app("acmeone");
    let (two, _) = bed_app("acmetwo");
    let names = [one.host_name(), two.host_name()];
    let pebble = Pebble::start(b, &[&names[0], &names[1]], server_ip);
    let root_pem = pebble.root().unwrap();
    let work = tempfile::tempdir().unwrap();
    let root = work.path().join("pebble-root.pem");
    std::fs::write(&root, &root_pem).unwrap();

    use_pebble(&one, &pebble);
    use_pebble(&two, &pebble);
    // This build's proxy (an earlier test may have left an older one).
    one.hoist(&["proxy", "reboot"]).assert_ok();
    one.deploy("v1", &[]).assert_ok();
    assert_eq!(pebble.issued(), 1, "{}", pebble.logs());
    two.deploy("v1", &[]).assert_ok();
    for (host, app) in [(&names[0], &one), (&names[1], &two)] {
        let body =
            https(b, host, &root).unwrap_or_else(|e| panic!("{host}: {e}\n{}", pebble.logs()));
        assert!(body.contains("version v1"), "{host}: {body}");
        assert!(
            body.contains("hello from web"),
            "{host} ({}): {body}",
            app.service
        );
    }
    // Plain HTTP redirects to HTTPS.
    let port = b.http[SERVER].rsplit(':').next().unwrap();
    let out = Command::new("curl")
        .args([
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{redirect_url}",
        ])
        .args(["--resolve", &format!("{}:{port}:127.0.0.1", names[0])])
        .arg(format!("http://{}:{port}/x", names[0]))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        said.starts_with(&format!("301 https://{}", names[0])),
        "{said}"
    );
    assert_eq!(pebble.issued(), 2, "{}", pebble.logs());

    // A redeploy and a proxy reboot order nothing: the stored certificates.
    one.deploy("v2", &[]).assert_ok();
    one.hoist(&["proxy", "reboot"]).assert_ok();
    for host in &names {
        let body = https(b, host, &root).unwrap_or_else(|e| panic!("{host} after the reboot: {e}"));
        assert!(body.contains("hello from web"), "{body}");
    }
    assert!(https(b, &names[0], &root).unwrap().contains("version v2"));
    assert_eq!(
        pebble.issued(),
        2,
        "a new order after a redeploy or reboot:\n{}",
        pebble.logs()
    );
    let details = one.hoist(&["proxy", "details"]);
    details.assert_ok();
    assert!(
        details
            .text()
            .contains(&format!("certificate {} valid until", names[0])),
        "{}",
        details.text()
    );
    one.hoist(&["remove", "-y"]).assert_ok();
    two.hoist(&["remove", "-y"]).assert_ok();
}

/// A name the CA cannot validate (it resolves to a server without a proxy
/// for it): the deploy fails naming the host and the CA's error, and the
/// lock is released.
#[test]
fn ssl_true_failure_names_the_host_and_the_ca_error() {
    let _g = exclusive();
    let b = bed();
    // Pebble validates this name at server 1, where nothing answers it.
    let (_, wrong) = address(&b.names[0]);
    let (app, _) = bed_app("acmebad");
    let pebble = Pebble::start(b, &[&app.host_name()], wrong);
    use_pebble(&app, &pebble);
    app.hoist(&["proxy", "reboot"]).assert_ok();
    let run = app.deploy("v1", &[]);
    run.assert_failed();
    let text = run.text();
    assert!(
        text.contains(&format!("no certificate for {}", app.host_name())),
        "{text}"
    );
    assert!(text.contains("urn:ietf:params:acme:error"), "{text}");
    app.assert_unlocked("after a failed ssl: true deploy");
    app.hoist(&["remove", "-y"]).assert_ok();
}
