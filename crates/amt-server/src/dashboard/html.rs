//! Server-side rendering: escaping, the page frame and a generic view of
//! the control API's JSON, so a page shows what the API says.

use serde_json::Value;

const PAGE: &str = include_str!("page.html");

/// Escapes text for an HTML element or a quoted attribute (the web UI's
/// escaping: one function for both faces).
pub(crate) fn esc(s: &str) -> String {
    crate::web_ui::layout::escape(s)
}

/// A whole page: `title` is text, `body` HTML already escaped.
pub(crate) fn page(title: &str, body: &str) -> String {
    // The frame is split at its placeholders, so nothing inserted is
    // scanned again.
    let (head, rest) = PAGE.split_once("{{title}}").unwrap_or((PAGE, ""));
    let (middle, tail) = rest.split_once("{{body}}").unwrap_or((rest, ""));
    let mut out = String::with_capacity(PAGE.len() + body.len() + title.len());
    out.push_str(head);
    out.push_str(&esc(title));
    out.push_str(middle);
    out.push_str(body);
    out.push_str(tail);
    out
}

/// A JSON value as nested tables and lists.
pub(crate) fn value(v: &Value) -> String {
    match v {
        Value::Null => "<span class=\"none\">—</span>".into(),
        Value::Bool(b) => if *b { "yes" } else { "no" }.into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if s.contains('\n') => format!("<pre>{}</pre>", esc(s)),
        Value::String(s) => esc(s),
        Value::Array(items) if items.is_empty() => "<span class=\"none\">none</span>".into(),
        Value::Array(items) => {
            let mut out = String::from("<ol class=\"items\">");
            for item in items {
                out.push_str("<li>");
                out.push_str(&value(item));
                out.push_str("</li>");
            }
            out.push_str("</ol>");
            out
        }
        Value::Object(map) => {
            let mut out = String::from("<table class=\"kv\">");
            for (k, v) in map {
                out.push_str(&format!(
                    "<tr><th>{}</th><td>{}</td></tr>",
                    esc(k),
                    value(v)
                ));
            }
            out.push_str("</table>");
            out
        }
    }
}

/// Labelled values in the order given.
pub(crate) fn pairs(rows: &[(&str, Value)]) -> String {
    let mut out = String::from("<table class=\"kv\">");
    for (k, v) in rows {
        out.push_str(&format!(
            "<tr><th>{}</th><td>{}</td></tr>",
            esc(k),
            value(v)
        ));
    }
    out.push_str("</table>");
    out
}

/// `text` of a JSON field, or a dash.
pub(crate) fn field(v: &Value, key: &str) -> String {
    match v.get(key) {
        None | Some(Value::Null) => "—".into(),
        Some(Value::String(s)) => esc(s),
        Some(other) => esc(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn everything_inserted_is_escaped_once() {
        assert_eq!(
            esc("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
        let p = page("{{body}}<x>", "<p>ok</p>");
        assert!(p.contains("<title>{{body}}&lt;x&gt;"));
        assert!(p.contains("<p>ok</p>"));
        let v = serde_json::json!({"<k>": ["<v>", null, true], "pem": "a\nb"});
        let h = value(&v);
        assert!(h.contains("&lt;k&gt;") && h.contains("&lt;v&gt;") && !h.contains("<v>"));
        assert!(h.contains("<pre>a\nb</pre>"));
    }
}
