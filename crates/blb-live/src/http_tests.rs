//! Unit tests of the HTTP server.

use super::*;

#[test]
fn head_end_and_parsing() {
    assert_eq!(find_head_end(b"GET / HTTP/1.1\r\n\r\nbody"), Some((16, 18)));
    assert_eq!(find_head_end(b"GET / HTTP/1.1\n\nbody"), Some((15, 16)));
    assert_eq!(find_head_end(b"GET / HTTP/1.1\r\nHost: x\r\n"), None);
    let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let Ok(req) = parse_head(
        "GET /a/b?x=1&y HTTP/1.1\r\nHost: h\r\nAuthorization:  bearer  s3cret \r\n",
        peer,
    ) else {
        panic!("should parse");
    };
    assert_eq!(req.path, "/a/b");
    assert_eq!(req.query.as_deref(), Some("x=1&y"));
    assert_eq!(req.header("HOST"), Some("h"));
    assert_eq!(req.bearer_token(), Some("s3cret"));
    assert!(!format!("{req:?}").contains("s3cret"));
    for bad in [
        "GET /\r\n",
        "GET  / HTTP/1.1\r\n",
        "G(T / HTTP/1.1\r\n",
        "GET x HTTP/1.1\r\n",
        "GET / HTTP/1.1\r\nBad Name: x\r\n",
        "GET / HTTP/1.1\r\nNoColon\r\n",
        "GET / HTTP/1.1\r\nA: b\r\n folded\r\n",
        "GET / HTTP/1.1\r\nA: b\x01\r\n",
    ] {
        assert!(
            matches!(parse_head(bad, peer), Err(Failure::Respond(r)) if r.status == 400),
            "{bad:?}"
        );
    }
    assert!(matches!(
        parse_head("GET / HTTP/2.0\r\n", peer),
        Err(Failure::Respond(r)) if r.status == 505
    ));
}

#[test]
fn content_length_rules() {
    let peer: SocketAddr = "127.0.0.1:1".parse().unwrap();
    let len = |headers: &str| {
        let Ok(req) = parse_head(&format!("POST / HTTP/1.1\r\n{headers}"), peer) else {
            panic!("head should parse");
        };
        match body_length(&req) {
            Ok(n) => n as i64,
            Err(Failure::Respond(r)) => -i64::from(r.status),
            Err(Failure::Close) => 0,
        }
    };
    assert_eq!(len(""), 0);
    assert_eq!(len("Content-Length: 5\r\n"), 5);
    assert_eq!(len("Content-Length: 5\r\ncontent-length: 5\r\n"), 5);
    assert_eq!(len("Content-Length: 5\r\nContent-Length: 6\r\n"), -400);
    assert_eq!(len("Content-Length: -5\r\n"), -400);
    assert_eq!(len("Content-Length: 99999999999999999999999\r\n"), -400);
    assert_eq!(len("Content-Length: 65537\r\n"), -413);
    assert_eq!(len("Transfer-Encoding: chunked\r\n"), -411);
}

#[test]
fn rendering_and_tokens() {
    let r = render(&Response::json(200, "{}"), false);
    let s = String::from_utf8(r).unwrap();
    assert!(s.starts_with("HTTP/1.1 200 OK\r\n"), "{s}");
    assert!(s.contains("Content-Length: 2\r\n"));
    assert!(s.ends_with("\r\n\r\n"));
    assert!(token_matches(Some("abc"), "abc"));
    assert!(!token_matches(Some("abd"), "abc"));
    assert!(!token_matches(Some("ab"), "abc"));
    assert!(!token_matches(Some("abcd"), "abc"));
    assert!(!token_matches(None, "abc"));
    assert!(!token_matches(Some(""), ""));
}
