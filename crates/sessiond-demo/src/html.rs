//! The demo's pages: small HTML with every value escaped.

use axum::response::Html;

/// Escapes text for HTML element content and quoted attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A page with `title` and `body` (already escaped HTML).
pub fn page(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width\">\
         <title>{t} · sessiond demo</title>\
         <style>body{{font-family:system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}}\
         form{{margin:1rem 0}}label{{display:block;margin:.3rem 0}}code,pre{{background:#f4f4f4}}</style>\
         </head><body><h1>{t}</h1>\n{body}\n</body></html>\n",
        t = escape(title),
    ))
}

/// The sign-in form posting to `action` (fields `user` and `password`).
pub fn login_form(action: &str, button: &str, id: &str) -> String {
    format!(
        "<form method=\"post\" action=\"{a}\" id=\"{id}\">\
         <label>User <input name=\"user\" autocomplete=\"username\" required></label>\
         <label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label>\
         <button type=\"submit\">{b}</button></form>",
        a = escape(action),
        b = escape(button),
        id = escape(id),
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup() {
        assert_eq!(
            super::escape(r#"<script>"x"&'y'</script>"#),
            "&lt;script&gt;&quot;x&quot;&amp;&#39;y&#39;&lt;/script&gt;"
        );
    }
}
