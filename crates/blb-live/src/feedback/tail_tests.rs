//! Tests of the line tail on temporary files: partial lines, rotation, truncation, long
//! lines, a file that appears late.

use std::fs::{self, OpenOptions};
use std::io::Write;

use super::*;

/// What one poll handed over, as text.
fn poll(t: &mut LineTail) -> Vec<String> {
    let mut out = Vec::new();
    t.poll(usize::MAX, &mut |e| {
        out.push(match e {
            TailEvent::Line(l) => String::from_utf8_lossy(l).into_owned(),
            other => format!("<{other:?}>"),
        })
    })
    .expect("readable");
    out
}

fn append(path: &Path, data: &str) {
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap();
    f.write_all(data.as_bytes()).unwrap();
}

#[test]
fn a_partial_last_line_waits_for_its_newline() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("log");
    append(&p, "one\ntw");
    let mut t = LineTail::new(&p, Start::Beginning, 100);
    assert_eq!(poll(&mut t), ["one"]);
    assert_eq!(poll(&mut t), Vec::<String>::new());
    append(&p, "o\n\nthree\n");
    assert_eq!(poll(&mut t), ["two", "", "three"]);
}

#[test]
fn starting_at_the_end_skips_the_past_and_a_line_begun_before() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("eve.json");
    append(&p, "old\nhalf a li");
    let mut t = LineTail::new(&p, Start::End, 100);
    assert_eq!(poll(&mut t), Vec::<String>::new());
    append(&p, "ne\nnew\n");
    assert_eq!(poll(&mut t), ["new"]);
}

#[test]
fn a_file_that_appears_late_is_read_from_its_beginning() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("eve.json");
    let mut t = LineTail::new(&p, Start::End, 100);
    assert_eq!(poll(&mut t), Vec::<String>::new());
    assert!(!t.is_open());
    append(&p, "first\n");
    assert_eq!(poll(&mut t), ["first"]);
    assert!(t.is_open());
}

#[test]
fn rotation_reads_the_old_file_to_its_end_then_the_new_one() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("log");
    let old = dir.path().join("log.1");
    append(&p, "a\n");
    let mut t = LineTail::new(&p, Start::Beginning, 100);
    assert_eq!(poll(&mut t), ["a"]);
    // Renamed: the writer still appends to the old file until it reopens.
    fs::rename(&p, &old).unwrap();
    append(&old, "b\n");
    assert_eq!(
        poll(&mut t),
        ["b"],
        "no new file yet: keep reading the old one"
    );
    append(&old, "c\nunfinis");
    append(&p, "d\n");
    assert_eq!(poll(&mut t), ["c", "<Unfinished(7)>", "<Rotated>", "d"]);
    assert_eq!(t.stats.rotations, 1);
}

#[test]
fn truncation_starts_again_at_the_beginning() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("log");
    append(&p, "a long first line\nand a second\npart");
    let mut t = LineTail::new(&p, Start::Beginning, 100);
    assert_eq!(poll(&mut t), ["a long first line", "and a second"]);
    fs::write(&p, "x\n").unwrap();
    assert_eq!(poll(&mut t), ["<Unfinished(4)>", "<Truncated>", "x"]);
    assert_eq!(t.stats.truncations, 1);
}

#[test]
fn overlong_lines_are_skipped_to_their_newline() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("log");
    append(&p, "short\n0123456789ABC");
    let mut t = LineTail::new(&p, Start::Beginning, 10);
    assert_eq!(poll(&mut t), ["short", "<Overlong(13)>"]);
    append(&p, "DEF\nok\n");
    assert_eq!(poll(&mut t), ["ok"]);
    assert_eq!(t.stats.overlong, 1);
}

#[test]
fn a_budget_leaves_the_rest_for_the_next_poll() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("log");
    let line = "x".repeat(1000) + "\n";
    append(&p, &line.repeat(200));
    let mut t = LineTail::new(&p, Start::Beginning, 4096);
    let mut lines = 0;
    let n = t
        .poll(CHUNK, &mut |e| {
            lines += usize::from(matches!(e, TailEvent::Line(_)))
        })
        .unwrap();
    assert_eq!(n, CHUNK);
    assert_eq!(lines, CHUNK / 1001);
    assert_eq!(poll(&mut t).len(), 200 - CHUNK / 1001);
}

#[test]
fn a_directory_is_refused_by_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let mut t = LineTail::new(dir.path(), Start::Beginning, 10);
    let err = t.poll(100, &mut |_| {}).unwrap_err().to_string();
    assert!(err.contains(&dir.path().display().to_string()), "{err}");
}
