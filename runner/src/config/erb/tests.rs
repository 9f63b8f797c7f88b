use super::*;

fn env(name: &str) -> Option<String> {
    match name {
        "HOST" => Some("web-1".into()),
        "EMPTY" => Some(String::new()),
        "STAGE" => Some("production".into()),
        "N" => Some("12".into()),
        _ => None,
    }
}

const VARS: [(&str, &str); 4] = [
    ("HOST", "web-1"),
    ("EMPTY", ""),
    ("STAGE", "production"),
    ("N", "12"),
];

fn subset(t: &str) -> Result<String, ErbError> {
    render_with(t, &env, &|cmd| Ok(format!("ran[{cmd}]\n"))).map(|r| r.text)
}

/// Templates and what Ruby's ERB renders for them with [`VARS`] set (checked
/// against Ruby itself by `ruby_agrees` where Ruby is installed).
const CASES: &[(&str, &str)] = &[
    ("a: <%= ENV[\"HOST\"] %>", "a: web-1"),
    ("a: <%= ENV.fetch('HOST') %>", "a: web-1"),
    ("a: <%= ENV.fetch(\"NOPE\", \"x\") %>", "a: x"),
    ("a: <%= ENV.fetch(\"NOPE\") { 'blk' } %>", "a: blk"),
    ("a: <%= ENV.fetch(\"NOPE\", nil) %>.", "a: ."),
    ("a: <%= ENV['NOPE'] %>.", "a: ."),
    ("a: <%= \"my-user\" %>", "a: my-user"),
    (
        "a: <%= 'single' %> <%= 42 %> <%= 1.5 %>",
        "a: single 42 1.5",
    ),
    ("a: <%= ENV[\"NOPE\"] || \"fallback\" %>", "a: fallback"),
    ("a: <%= ENV[\"EMPTY\"] || \"fallback\" %>.", "a: ."),
    (
        "a: <%= ENV[\"EMPTY\"].presence || \"fallback\" %>",
        "a: fallback",
    ),
    (
        "a: <%= ENV[\"NOPE\"] || ENV[\"NOPE2\"] || \"#{ENV['HOST']}-#{ENV[\"N\"]}\" %>",
        "a: web-1-12",
    ),
    ("a: <%= ENV[\"STAGE\"] == \"production\" ? 3 : 1 %>", "a: 3"),
    (
        "a: <%= ENV[\"STAGE\"] != 'production' ? \"x\" : \"y\" %>",
        "a: y",
    ),
    (
        "a: <%= (ENV[\"NOPE\"] || 'p') == 'p' ? 'yes' : 'no' %>",
        "a: yes",
    ),
    (
        "a: <%= ENV.key?(\"HOST\") && !ENV.key?(\"NOPE\") %>",
        "a: true",
    ),
    (
        "a: <%= ENV[\"HOST\"].upcase + \"-\" + ENV.fetch(\"N\").to_i.to_s %>",
        "a: WEB-1-12",
    ),
    (
        "a: <%= \"  pad \\t\".strip %>|<%= \"x\\n\".chomp %>|<%= nil.to_s %>",
        "a: pad|x|",
    ),
    ("a: <%= \"q\\\"\\\\\" %>", "a: q\"\\"),
    (
        "<% if ENV[\"STAGE\"] == \"production\" %>a: 1\n<% else %>a: 2\n<% end %>",
        "a: 1\n",
    ),
    (
        "<% unless ENV[\"HOST\"] %>a: 1\n<% else %>b\n<% end %>",
        "b\n",
    ),
    (
        "<% if ENV['NOPE'] %>a\n<% elsif ENV['HOST'] == 'web-1' %>b\n<% else %>c\n<% end %>",
        "b\n",
    ),
    (
        "<% host = ENV.fetch(\"HOST\", \"h\") %>a: <%= host %>",
        "a: web-1",
    ),
    (
        "# RUBY_VERSION: <%= ENV[\"RBENV_VERSION\"] || ENV[\"rvm_ruby_string\"] || \"#{RUBY_ENGINE}-#{RUBY_ENGINE_VERSION}\" %>\na: 1",
        "# RUBY_VERSION: \na: 1",
    ),
    (
        "# <%= ENV.fetch(\"NOPE\") %>\na: <%%= x %>",
        "# \na: <%= x %>",
    ),
    ("a: <%# ignored %>1 <%= \"%%>\" %>", "a: 1 %>"),
    (
        "<% raise \"no\" if ENV[\"HOST\"].to_s.empty? %>a: <%= 1 %>",
        "a: 1",
    ),
    (
        "<% v = 'a' unless ENV.key?('HOST') %>b: <%= v.nil? %>",
        "b: true",
    ),
];

#[test]
fn subset_renders_the_common_cases() {
    for (template, want) in CASES {
        let got = subset(template).unwrap_or_else(|e| panic!("{template}: {e}"));
        // Ruby prints RUBY_ENGINE there; the subset renders a failing tag in a
        // comment as nothing. Both are inside a YAML comment.
        if template.contains("RUBY_ENGINE") {
            assert!(got.starts_with("# RUBY_VERSION: "), "{got}");
            assert!(got.ends_with("\na: 1"), "{got}");
            continue;
        }
        assert_eq!(&got, want, "{template}");
    }
}

#[test]
fn ruby_agrees() {
    if !ruby::available() {
        eprintln!("no ruby on PATH: the subset's cases are not checked against Ruby");
        return;
    }
    let cx = Context {
        path: Path::new("config/deploy.yml"),
        destination: None,
        engine: Engine::Ruby,
    };
    for (template, want) in CASES {
        let got = ruby::render_env(template, &cx, &VARS)
            .unwrap_or_else(|e| panic!("{template}: {e}"))
            .text;
        if template.contains("RUBY_ENGINE") {
            assert!(got.starts_with("# RUBY_VERSION: ruby-"), "{got}");
            continue;
        }
        assert_eq!(&got, want, "Ruby's ERB on {template}");
    }
}

#[test]
fn ruby_names_file_and_line_and_maps_lines() {
    if !ruby::available() {
        return;
    }
    let cx = Context {
        path: Path::new("config/deploy.yml"),
        destination: Some("mars"),
        engine: Engine::Ruby,
    };
    let e =
        ruby::render_env("a: 1\n\nb: <%= ENV.fetch('HOIST_T_NOPE') %>\n", &cx, &[]).unwrap_err();
    assert_eq!(e.line, 3, "{e}");
    assert!(e.message.contains("KeyError"), "{e}");
    let e = ruby::render_env("a: 1\nb: <%= 1 + %>\n", &cx, &[]).unwrap_err();
    assert_eq!(e.line, 2, "{e}");
    assert!(e.message.contains("SyntaxError"), "{e}");
    let r = ruby::render("a: <%= ENV['KAMAL_DESTINATION'] %>\nb: \"<%= \"x\\ny\" %>\"\nc: <%= [1,2].map { |i| i * 2 }.join(',') %>\n<% 2.times do %>- z\n<% end %>d: 4\n", &cx).unwrap();
    assert_eq!(r.text, "a: mars\nb: \"x\ny\"\nc: 2,4\n- z\n- z\nd: 4\n");
    assert_eq!(
        r.source_line(3),
        2,
        "the value's second line comes from its tag's line"
    );
    assert_eq!(r.source_line(4), 3);
    assert_eq!(r.source_line(7), 5);
}

#[test]
fn lines_map_back_to_the_source() {
    let env = |_: &str| Some("one\ntwo\nthree".to_string());
    let r = render("a: 1\nb: \"<%= ENV.fetch(\n  'X') %>\"\nc: 3\n", &env).unwrap();
    assert_eq!(r.text, "a: 1\nb: \"one\ntwo\nthree\"\nc: 3\n");
    assert_eq!(r.source_line(1), 1);
    assert_eq!(r.source_line(4), 2);
    assert_eq!(r.source_line(5), 4, "c: is on the source's line 4");
    let r = subset("<% if false %>\nx\n<% end %>\ny: 1\n").unwrap();
    assert_eq!(r, "\ny: 1\n");
}

#[test]
fn errors_name_line_and_column() {
    let e = subset("a: 1\nb:   <%= foo %>\n").unwrap_err();
    assert_eq!((e.line, e.column), (2, 10), "{e}");
    assert!(
        e.message.contains("`foo` is not in hoist's ERB subset"),
        "{e}"
    );
    assert!(e.message.contains("install Ruby"), "{e}");
    let e = subset("x: <%= ENV.fetch(\"NOPE\") %>").unwrap_err();
    assert!(e.message.contains("NOPE is not set"), "{e}");
    assert_eq!(e.column, 11, "{e}");
    let e = subset("a:\n  b: <%= ENV['X'].\n   bogus %>").unwrap_err();
    assert_eq!(e.line, 2, "{e}");
    let e = subset("a: 1\n\n<% if true %>\n").unwrap_err();
    assert!(e.message.contains("never closed"), "{e}");
    let e = subset("a: <%= 1\n").unwrap_err();
    assert_eq!((e.line, e.column), (1, 4));
    let e =
        subset("<% raise \"destination missing\" if ENV[\"NOPE\"].to_s.empty? %>\n").unwrap_err();
    assert!(
        e.message
            .contains("raised RuntimeError: destination missing"),
        "{e}"
    );
    let e = subset("<% end %>").unwrap_err();
    assert!(e.message.contains("without an `if`"), "{e}");
}

#[test]
fn backticks_run_in_the_subset_and_not_when_sealed() {
    assert_eq!(
        subset("v: <%= `git rev-parse --short HEAD`.strip %>").unwrap(),
        "v: ran[git rev-parse --short HEAD]"
    );
    let cx = Context {
        path: Path::new("c.yml"),
        destination: None,
        engine: Engine::Sealed,
    };
    let e = render_file("v: <%= `touch /tmp/hoist-sealed` %>", &cx).unwrap_err();
    assert!(e.message.contains("not run"), "{e}");
}

#[test]
fn empty_values_are_remembered_per_line() {
    let r = render("a: 1\nhost: <%= ENV['NOPE'] %>\n", &env).unwrap();
    assert_eq!(r.empty_tags_on(2), vec!["<%= ENV['NOPE'] %>"]);
    assert!(r.empty_tags_on(1).is_empty());
}
