//! Runs the `galaxy-dl-mock` binary: export lines on stdout, serving, exit on stdin EOF.

use galaxy_dl_mock::client::get;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn run(args: &[&str]) -> (std::process::Child, Vec<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_galaxy-dl-mock"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = Vec::new();
    let mut r = BufReader::new(child.stdout.take().unwrap());
    loop {
        let mut l = String::new();
        assert!(r.read_line(&mut l).unwrap() > 0, "early EOF: {lines:?}");
        let done = l.starts_with("# ready");
        lines.push(l.trim_end().to_string());
        if done {
            break;
        }
    }
    (child, lines)
}

#[test]
fn gog_mode_prints_env_and_serves() {
    let (mut child, lines) = run(&["--chunk-size", "256K", "--v1-size", "1M"]);
    let auth = lines.iter().find_map(|l| l.strip_prefix("export GALAXY_DL_AUTH_URL=")).unwrap().to_string();
    for k in ["CONTENT_SYSTEM", "CDN", "EMBED"] {
        assert!(lines.contains(&format!("export GALAXY_DL_{k}_URL={auth}")));
    }
    assert!(lines.contains(&"# login code: fixture-login-code".to_string()));
    assert_eq!(get(&format!("{auth}/auth")).status, 200);
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
}

#[test]
fn blob_mode_and_bad_usage() {
    let (mut child, lines) = run(&["--blob", "64K"]);
    let l = lines.iter().find(|l| l.starts_with("# url: ")).unwrap();
    let parts: Vec<&str> = l.split_whitespace().collect();
    let r = get(parts[2]);
    assert_eq!(r.body.len(), 65536);
    assert_eq!(galaxy_dl_mock::data::md5_hex(&r.body), parts[4]);
    drop(child.stdin.take());
    assert!(child.wait().unwrap().success());
    let st = Command::new(env!("CARGO_BIN_EXE_galaxy-dl-mock")).arg("--nope").stderr(Stdio::null()).status().unwrap();
    assert_eq!(st.code(), Some(2));
}
