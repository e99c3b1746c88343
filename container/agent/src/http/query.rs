//! Query parameters, for the routes that take them (processes, terminals): plain tokens, as given.

use axum::http::Uri;

/// The value of `name` in `uri`'s query, as given (no percent-decoding: the values these routes take are plain
/// tokens, and anything else is refused by the route's own check).
pub fn query(uri: &Uri, name: &str) -> Option<String> {
    uri.query()?.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| value.to_string())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_read_as_given() {
        let uri: Uri = "/v1/processes/p/stream?encoding=base64&from=12&flag".parse().unwrap();
        assert_eq!(query(&uri, "from").as_deref(), Some("12"));
        assert_eq!(query(&uri, "flag").as_deref(), Some(""));
        assert_eq!(query(&uri, "status"), None);
        assert_eq!(query(&"/v1/ptys".parse().unwrap(), "x"), None);
    }
}
