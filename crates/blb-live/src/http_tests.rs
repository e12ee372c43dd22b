//! Unit tests of the HTTP server: the connection limits' book-keeping, bearer tokens, and
//! the rendering of a response.

use super::*;

fn ip(last: u8) -> IpAddr {
    IpAddr::from([127, 0, 0, last])
}

#[test]
fn slots_are_limited_per_client_and_given_back() {
    let clients = Arc::new(Mutex::new(Clients::default()));
    let mine: Vec<Slot> = (0..MAX_PER_CLIENT)
        .map(|_| Slot::take(&clients, ip(1)).expect("a place"))
        .collect();
    assert!(Slot::take(&clients, ip(1)).is_none(), "one client's limit");
    let other = Slot::take(&clients, ip(2)).expect("another client still gets in");
    drop(mine);
    assert!(Slot::take(&clients, ip(1)).is_some(), "places come back");
    drop(other);
    let c = clients.lock().unwrap();
    assert_eq!(c.total, 0);
    assert!(c.by_addr.is_empty(), "no entry kept for a client that left");
}

#[test]
fn slots_are_limited_in_all() {
    let clients = Arc::new(Mutex::new(Clients::default()));
    let held: Vec<Slot> = (0..MAX_CONNECTIONS)
        .map(|i| {
            let addr = IpAddr::from([10, 0, (i / 256) as u8, (i % 256) as u8]);
            Slot::take(&clients, addr).expect("a place")
        })
        .collect();
    assert!(Slot::take(&clients, ip(9)).is_none());
    drop(held);
    assert!(Slot::take(&clients, ip(9)).is_some());
}

#[test]
fn bearer_tokens_and_rendering() {
    let req = |v: &str| Request {
        method: "GET".into(),
        path: "/".into(),
        query: None,
        headers: vec![("authorization".into(), v.into())],
        body: Vec::new(),
        peer: "127.0.0.1:1".parse().unwrap(),
    };
    assert_eq!(req("Bearer abc").bearer_token(), Some("abc"));
    assert_eq!(req("bearer \t abc ").bearer_token(), Some("abc"));
    assert_eq!(req("Basic abc").bearer_token(), None);
    assert_eq!(req("Bearer ").bearer_token(), None);
    assert!(!format!("{:?}", req("Bearer s3cret")).contains("s3cret"));
    assert!(token_matches(Some("abc"), "abc"));
    assert!(!token_matches(Some("abd"), "abc"));
    assert!(!token_matches(Some("ab"), "abc"));
    assert!(!token_matches(Some(""), ""));
    let r = render(&Response::json(404, "{}"));
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()[CONTENT_TYPE], "application/json");
    assert_eq!(r.headers()[CONNECTION], "close");
    assert_eq!(render(&Response::text(42, "")).status(), 500);
}
