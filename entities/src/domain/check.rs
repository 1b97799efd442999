//! The checks every piece of data passes on its way in, whoever sends it (a mutation, the
//! territory loader, an importer): texts without control characters and within their length,
//! http(s) URLs only, e-mail addresses and phone numbers that look like ones, short codes. Each
//! failure names its field (`input.contact.websites[0]`, `contacts.emails[1]`).

/// A field that failed a check.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct Invalid {
    /// Path of the field, e.g. `input.location.lat`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

/// A failed check.
pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Invalid {
    Invalid { field: field.into(), message: message.into() }
}

/// Checks results of this module.
pub type Checked<T> = Result<T, Invalid>;

/// A text: trimmed, at most `max` characters, no control character but newlines and tabs.
pub fn text(field: &str, v: &str, max: usize) -> Checked<String> {
    let t = v.trim();
    if t.chars().count() > max {
        return Err(invalid(field, format!("at most {max} characters")));
    }
    if t.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(invalid(field, "control characters are not allowed"));
    }
    Ok(t.to_owned())
}

/// A one-line text (a name, a street): no control character at all.
pub fn line(field: &str, v: &str, max: usize) -> Checked<String> {
    let t = text(field, v, max)?;
    if t.contains(['\n', '\t']) {
        return Err(invalid(field, "a single line of text is expected"));
    }
    Ok(t)
}

/// An http or https URL with a host name, normalised.
pub fn url(field: &str, v: &str) -> Checked<String> {
    let parsed = url::Url::parse(v.trim()).map_err(|e| invalid(field, format!("not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none_or(|h| !h.contains('.')) {
        return Err(invalid(field, "an http or https URL with a host name is expected"));
    }
    if parsed.as_str().len() > 2_000 {
        return Err(invalid(field, "at most 2,000 characters"));
    }
    Ok(parsed.to_string())
}

/// An e-mail address: one `@`, a dotted domain, no spaces, nothing markup could use.
pub fn email(field: &str, v: &str) -> Checked<String> {
    let v = v.trim();
    let ok = v.len() <= 254
        && v.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && domain.contains('.')
                && !domain.contains('@')
                && domain.chars().all(|c| c.is_alphanumeric() || c == '.' || c == '-')
        })
        && !v.chars().any(|c| c.is_whitespace() || c.is_control() || "<>\"'(),;:[]\\".contains(c));
    if !ok {
        return Err(invalid(field, "not an e-mail address"));
    }
    Ok(v.to_owned())
}

/// A phone number: 6 to 20 digits, with optional `+` first, spaces, dots, dashes and brackets.
pub fn phone(field: &str, v: &str) -> Checked<String> {
    let v = v.trim();
    let digits = v.chars().filter(char::is_ascii_digit).count();
    let ok = (6..=20).contains(&digits)
        && v.chars().all(|c| c.is_ascii_digit() || " +.-()".contains(c))
        && !v.get(1..).unwrap_or("").contains('+');
    if !ok {
        return Err(invalid(field, "not a phone number"));
    }
    Ok(v.to_owned())
}

/// A list of short codes or labels: at most 50, each 1 to 100 printable characters.
pub fn codes(field: &str, v: &[String]) -> Checked<Vec<String>> {
    if v.len() > 50 {
        return Err(invalid(field, "at most 50 items"));
    }
    v.iter()
        .enumerate()
        .map(|(i, s)| {
            let s = s.trim();
            if s.is_empty() || s.len() > 100 || s.chars().any(char::is_control) {
                Err(invalid(format!("{field}[{i}]"), "1 to 100 printable characters"))
            } else {
                Ok(s.to_owned())
            }
        })
        .collect()
}

/// A latitude and longitude in range.
pub fn position(field: &str, lon: f64, lat: f64) -> Checked<(f64, f64)> {
    if !lat.is_finite() || !(-90.0..=90.0).contains(&lat) {
        return Err(invalid(format!("{field}.lat"), "between -90 and 90"));
    }
    if !lon.is_finite() || !(-180.0..=180.0).contains(&lon) {
        return Err(invalid(format!("{field}.lon"), "between -180 and 180"));
    }
    Ok((lon, lat))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_http_or_https_with_a_host() {
        assert_eq!(url("f", " https://www.example.fr/page ").as_deref(), Ok("https://www.example.fr/page"));
        for bad in
            ["javascript:alert(document.cookie)", "www.example.fr", "ftp://x.fr/", "http://localhost/", "data:,x"]
        {
            assert_eq!(
                url("input.websites[0]", bad).map_err(|e| e.field),
                Err("input.websites[0]".to_owned()),
                "{bad}"
            );
        }
    }

    #[test]
    fn emails_and_phones() {
        assert!(email("f", "office@tourisme.fr").is_ok());
        for bad in ["no at sign", "a@b", "\"><img src=x onerror=alert(1)>@x.fr", "a@x.fr<script>", "a b@x.fr"] {
            assert!(email("f", bad).is_err(), "{bad}");
        }
        assert!(phone("f", "+33 3 27 22 24 55").is_ok());
        assert!(phone("f", "03.27.22.24.55").is_ok());
        assert!(phone("f", "call me").is_err());
        assert!(phone("f", "0327+222455").is_err());
    }

    #[test]
    fn texts_lines_and_codes() {
        assert_eq!(text("f", "  a\nb ", 10).as_deref(), Ok("a\nb"));
        assert!(text("f", "a\u{7}b", 10).is_err_and(|e| e.message.contains("control")));
        assert!(text("f", &"é".repeat(11), 10).is_err_and(|e| e.message.contains("at most 10")));
        assert!(line("f", "a\nb", 10).is_err());
        assert!(codes("labels", &["ok".into(), " ".into()]).is_err_and(|e| e.field == "labels[1]"));
        assert!(codes("labels", &vec!["x".to_owned(); 51]).is_err());
        assert!(position("loc", 3.4, 91.0).is_err_and(|e| e.field == "loc.lat"));
        assert!(position("loc", f64::NAN, 50.0).is_err_and(|e| e.field == "loc.lon"));
    }
}
