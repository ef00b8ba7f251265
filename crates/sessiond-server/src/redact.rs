//! Store URLs without their secrets, for logs, `Debug` output and error messages.
//!
//! # Security
//! A store URL may carry a password in its user info (`postgres://u:PASSWORD@host/db`) or in
//! its query (`?password=…`). Passwords are not always well-formed URL parts: `p@ss`, `p/ss`,
//! `p?ss` and `p#ss` all occur in real configurations. [`redact_url`] therefore errs on the
//! side of hiding too much: the user info ends at the *last* `@` before the query, and when
//! an `@` only appears after a `?` or `#` (a password holding one of those) everything up to
//! that `@` is hidden. [`scrub`] guards the other way out: an error message from a driver that
//! quotes any piece of the secret is withheld whole.

/// Query parameters whose values are secrets (matched case-insensitively, by substring).
const SECRET_PARAMS: &[&str] = &["pass", "secret", "token"];

/// `url` with every password replaced by `***`.
///
/// `postgres://u:p@ss@db/app` → `postgres://u:***@db/app`;
/// `redis://:pw@h:6379?prefix=x` → `redis://:***@h:6379?prefix=x`;
/// `postgres://db/app?password=pw` → `postgres://db/app?password=***`.
pub fn redact_url(url: &str) -> String {
    redact(url).0
}

/// The redacted URL, and the secrets taken out of it.
fn redact(url: &str) -> (String, Vec<String>) {
    let mut secrets = Vec::new();
    let Some((scheme, rest)) = url.split_once("://") else {
        // Not a URL with an authority; hide anything that could be user info.
        return match url.rfind('@') {
            Some(at) => {
                secrets.push(url[..at].to_owned());
                (format!("***{}", &url[at..]), secrets)
            }
            None => (url.to_owned(), secrets),
        };
    };
    let split = rest.find(['?', '#']).unwrap_or(rest.len());
    let (head, tail) = rest.split_at(split);
    // Secret query parameters first, so that an `@` in one of them counts for nothing below.
    let tail = redact_query(tail, &mut secrets);
    let (head, tail) = if head.starts_with('/') {
        // `sqlite:///abs/path`: no authority, so no user info; an `@` is part of the path.
        (head.to_owned(), tail)
    } else if head.contains('@') {
        (redact_authorities(scheme, head, &mut secrets), tail)
    } else if let Some(at) = tail.rfind('@') {
        // An `@` only after `?` or `#`: a password holding `?` or `#`, or a query holding `@`.
        // Which one cannot be told, so hide everything up to it.
        secrets.push(format!("{head}{}", &tail[..at]));
        (String::new(), format!("***{}", &tail[at..]))
    } else {
        (head.to_owned(), tail)
    };
    (format!("{scheme}://{head}{tail}"), secrets)
}

/// The authority part (possibly a comma-separated node list) with passwords hidden.
fn redact_authorities(scheme: &str, head: &str, secrets: &mut Vec<String>) -> String {
    // A cluster lists nodes, each possibly with its own user info. Only split when every node
    // has one, so that a password holding a comma is never cut in two.
    if scheme.contains("cluster") && head.split(',').all(|n| n.contains('@')) {
        return head.split(',').map(|n| redact_authority(n, secrets)).collect::<Vec<_>>().join(",");
    }
    redact_authority(head, secrets)
}

/// `user:password@host/path` → `user:***@host/path` (the user info ends at the last `@`).
fn redact_authority(head: &str, secrets: &mut Vec<String>) -> String {
    let Some(at) = head.rfind('@') else {
        return head.to_owned();
    };
    let (userinfo, host) = (&head[..at], &head[at + 1..]);
    match userinfo.split_once(':') {
        Some((user, password)) => {
            secrets.push(password.to_owned());
            format!("{user}:***@{host}")
        }
        // No `:`: a user name, unless it holds an `@` (then it may be a password).
        None if userinfo.contains('@') => {
            secrets.push(userinfo.to_owned());
            format!("***@{host}")
        }
        None => head.to_owned(),
    }
}

/// `?a=1&password=x#f` → `?a=1&password=***#f`.
fn redact_query(tail: &str, secrets: &mut Vec<String>) -> String {
    let Some(query) = tail.strip_prefix('?') else {
        return tail.to_owned();
    };
    let (query, fragment) = match query.split_once('#') {
        Some((q, f)) => (q, Some(f)),
        None => (query, None),
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((k, v)) if is_secret_param(k) && !v.is_empty() => {
                secrets.push(v.to_owned());
                format!("{k}=***")
            }
            _ => pair.to_owned(),
        })
        .collect();
    let mut out = format!("?{}", pairs.join("&"));
    if let Some(f) = fragment {
        out.push('#');
        out.push_str(f);
    }
    out
}

fn is_secret_param(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    SECRET_PARAMS.iter().any(|p| key.contains(p))
}

/// Percent-decodes `s` (invalid escapes are kept as they are).
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn hex(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Every string that must not appear in a message about `url`: each secret, decoded too, and
/// the pieces drivers may quote when they cut a malformed URL at `?`, `#`, `&`, `=`, `@`, `/`
/// or `:` (single characters aside: they would match everything).
fn secret_pieces(url: &str) -> Vec<String> {
    let (_, secrets) = redact(url);
    let mut pieces: Vec<String> = Vec::new();
    for s in secrets {
        for whole in [s.clone(), percent_decode(&s)] {
            for piece in whole.split(['?', '#', '&', '=', '@', '/', ':']) {
                if piece.chars().count() >= 2 {
                    pieces.push(piece.to_owned());
                }
            }
            if whole.chars().count() >= 2 {
                pieces.push(whole);
            }
        }
    }
    pieces.sort();
    pieces.dedup();
    pieces
}

/// `message` (a driver's explanation of a failure with `url`), or a placeholder when it quotes
/// any piece of the URL's secrets.
pub(crate) fn scrub(message: &str, url: &str) -> String {
    if secret_pieces(url).iter().any(|p| message.contains(p.as_str())) {
        "(the driver's message is withheld: it quotes part of the store URL's password)".to_owned()
    } else {
        message.to_owned()
    }
}

/// The error chain of `e` (a failure with the store at `url`) flattened to text, withheld
/// whole when it quotes any piece of the URL's password (see [`scrub`]).
pub(crate) fn describe(e: &dyn std::error::Error, url: &str) -> String {
    scrub(&sessiond_core::error_chain(e), url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_hidden_whatever_they_hold() {
        for (url, want) in [
            ("postgres://u:hunter2@db/x", "postgres://u:***@db/x"),
            ("postgres://u:p@ss@host/db", "postgres://u:***@host/db"),
            ("postgres://u:p%40ss@host/db", "postgres://u:***@host/db"),
            ("postgres://u:p@s@s@host:5432/db", "postgres://u:***@host:5432/db"),
            ("postgres://u:pa/ss@host/db", "postgres://u:***@host/db"),
            ("postgres://u:p:ss@host/db", "postgres://u:***@host/db"),
            ("postgres://u:p?ss@host/db", "postgres://***@host/db"),
            ("postgres://u:p#ss@host/db", "postgres://***@host/db"),
            (
                "postgres://u:p@ss@host/db?schema=s&pool_size=4",
                "postgres://u:***@host/db?schema=s&pool_size=4",
            ),
            (
                "postgres://host/db?user=u&password=p@ss&schema=s",
                "postgres://host/db?user=u&password=***&schema=s",
            ),
            ("redis://:pw@h:6379/0?prefix=x", "redis://:***@h:6379/0?prefix=x"),
            ("redis://u@h:6379", "redis://u@h:6379"),
            ("redis://h:6379/0?prefix=x", "redis://h:6379/0?prefix=x"),
            ("redis+cluster://:a@h1:1,:b@h2:2", "redis+cluster://:***@h1:1,:***@h2:2"),
            ("redis+cluster://:a,b@h1:1", "redis+cluster://:***@h1:1"),
            ("sqlite:///var/lib/a@b.db", "sqlite:///var/lib/a@b.db"),
            ("sqlite://data/x.db", "sqlite://data/x.db"),
            ("memory://", "memory://"),
            ("mongodb:u:pw@host", "***@host"),
        ] {
            assert_eq!(redact_url(url), want, "{url}");
        }
    }

    #[test]
    fn no_piece_of_the_password_survives() {
        for (url, password) in [
            ("postgres://u:p@ss@host/db", "p@ss"),
            ("postgres://u:p%40ss@host/db", "p%40ss"),
            ("postgres://u:s3cr3t@x@host/db", "s3cr3t@x"),
            ("postgres://u:ab?cd@host/db", "ab?cd"),
            ("redis://:p@ss@127.0.0.1:1", "p@ss"),
        ] {
            let r = redact_url(url);
            for piece in password.split(['@', '?', '%']).filter(|p| p.len() >= 2) {
                assert!(!r.contains(piece), "{url} → {r}");
            }
        }
    }

    #[test]
    fn messages_quoting_the_password_are_withheld() {
        let url = "postgres://u:p?ss@127.0.0.1:1/db";
        let m = "unknown parameter `ss@127.0.0.1:1/db`";
        assert!(!scrub(m, url).contains("ss@"), "{}", scrub(m, url));
        let url = "postgres://u:p%40ss@host/db";
        assert!(!scrub("auth failed for p@ss", url).contains("p@ss"));
        assert_eq!(
            scrub("Connection refused (os error 111)", "postgres://u:hunter2@h/db"),
            "Connection refused (os error 111)"
        );
    }
}
