//! Where a viewer's request goes at the consumer's origin. The path comes from the request
//! (axum has already percent-decoded it), so it is hostile: `..%2F` segments would climb out
//! of the origin's base path, and a decoded `?` would make two different fetched URLs share
//! one cache key (review H3, M5). The URL is therefore built segment by segment, every
//! segment percent-encoded by the `url` crate, and checked to stay under the base; the cache
//! key is the URL actually fetched.
use anchor_lang::prelude::Pubkey;
use url::Url;

/// A request path the relay will not forward.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PathRefusal {
    #[error("the path has a `.` or `..` segment")]
    DotSegment,
    #[error("the path has a backslash")]
    Backslash,
    #[error("the path has a control character")]
    Control,
    #[error("the path has a decoded `?` or `#`")]
    Delimiter,
    /// Viewers read this: it names no origin (the publisher keeps it private, issue 17).
    #[error("the path leaves the origin's base")]
    Escapes,
}

/// The origin URL for `path` (decoded, without the leading `/`) under `base`, with the
/// request's raw `query` when the relay forwards queries.
pub fn origin_url(base: &Url, path: &str, query: Option<&str>) -> Result<Url, PathRefusal> {
    for c in path.chars() {
        match c {
            '\\' => return Err(PathRefusal::Backslash),
            '?' | '#' => return Err(PathRefusal::Delimiter),
            c if c.is_control() => return Err(PathRefusal::Control),
            _ => {}
        }
    }
    let segments: Vec<&str> = path.split('/').collect();
    if segments.iter().any(|s| *s == "." || *s == "..") {
        return Err(PathRefusal::DotSegment);
    }
    let base_path = base_path(base);
    let mut url = base.clone();
    url.set_query(None);
    url.set_fragment(None);
    {
        let mut parts = url.path_segments_mut().map_err(|_| PathRefusal::Escapes)?;
        parts.pop_if_empty().extend(segments);
    }
    if let Some(query) = query.filter(|q| !q.is_empty()) {
        url.set_query(Some(query));
    }
    let stays = url.origin() == base.origin() && url.path().starts_with(&base_path);
    if !stays {
        return Err(PathRefusal::Escapes);
    }
    Ok(url)
}

/// The base's path with exactly one trailing `/`: every fetched path starts with it.
fn base_path(base: &Url) -> String {
    format!("{}/", base.path().trim_end_matches('/'))
}

/// The cache key of an object (its first part): its consumer and the URL it is fetched from.
pub fn cache_key(consumer: &Pubkey, url: &Url) -> CacheKey {
    CacheKey {
        consumer: *consumer,
        url: url.as_str().into(),
        part: 0,
    }
}

/// What the cache files a part of an object under: its consumer (the raw key, so a lookup
/// encodes nothing), the origin URL and the part (0 for an object kept whole, else its
/// slice).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CacheKey {
    pub consumer: Pubkey,
    pub url: String,
    pub part: u64,
}

impl CacheKey {
    /// Its size in the cache's byte budget.
    pub fn weight(&self) -> usize {
        40 + self.url.len()
    }

    /// The key of another part of the same object.
    pub fn with_part(&self, part: u64) -> CacheKey {
        CacheKey {
            part,
            ..self.clone()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base() -> Url {
        Url::parse("http://origin.example:8000/media/").unwrap()
    }

    #[test]
    fn paths_land_under_the_base() {
        let url = origin_url(&base(), "live/index.m3u8", None).unwrap();
        assert_eq!(
            url.as_str(),
            "http://origin.example:8000/media/live/index.m3u8"
        );
        let no_slash = Url::parse("http://origin.example/media").unwrap();
        assert_eq!(
            origin_url(&no_slash, "a.ts", None).unwrap().as_str(),
            "http://origin.example/media/a.ts"
        );
        // Characters that mean something in a URL are encoded, not interpreted.
        assert_eq!(
            origin_url(&base(), "a b%.ts", None).unwrap().as_str(),
            "http://origin.example:8000/media/a%20b%25.ts"
        );
        assert_eq!(
            origin_url(&base(), "seg.ts", Some("v=1")).unwrap().as_str(),
            "http://origin.example:8000/media/seg.ts?v=1"
        );
    }

    /// H3: `..%2F` arrives decoded as `../`; every spelling of a dot segment is refused.
    #[test]
    fn h3_traversal_out_of_the_base_is_refused() {
        for path in [
            "../admin",
            "a/../../etc/passwd",
            "./x",
            "a/..",
            "..",
            "a/./b",
        ] {
            assert_eq!(
                origin_url(&base(), path, None),
                Err(PathRefusal::DotSegment),
                "{path}"
            );
        }
        assert_eq!(
            origin_url(&base(), "..\\admin", None),
            Err(PathRefusal::Backslash)
        );
        assert_eq!(origin_url(&base(), "a\0b", None), Err(PathRefusal::Control));
        // `%2e%2e` decoded by axum is `..`; still-encoded forms are literal names, encoded again.
        let url = origin_url(&base(), "%2e%2e/x", None).unwrap();
        assert!(url.path().starts_with("/media/"), "{url}");
    }

    /// M5: a decoded `?` in the path would fetch one URL and cache it under another's key.
    #[test]
    fn m5_a_decoded_query_delimiter_is_refused_and_keys_are_fetched_urls() {
        assert_eq!(
            origin_url(&base(), "seg.ts?v=1", None),
            Err(PathRefusal::Delimiter)
        );
        assert_eq!(
            origin_url(&base(), "seg.ts#x", None),
            Err(PathRefusal::Delimiter)
        );
        let consumer = Pubkey::new_unique();
        let with_query = origin_url(&base(), "seg.ts", Some("v=1")).unwrap();
        let without = origin_url(&base(), "seg.ts", None).unwrap();
        assert_ne!(
            cache_key(&consumer, &with_query),
            cache_key(&consumer, &without)
        );
        assert_ne!(
            cache_key(&consumer, &without),
            cache_key(&Pubkey::new_unique(), &without)
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig { cases: 3_000, ..Default::default() })]

        /// H3: whatever decoded path a viewer sends, the URL is refused or stays under the
        /// origin's base, on the same scheme, host and port.
        #[test]
        fn fuzz_no_path_leaves_the_base(path in "(\\PC|[./\\\\?#%]){0,60}", query in proptest::option::of("\\PC{0,20}")) {
            if let Ok(url) = origin_url(&base(), &path, query.as_deref()) {
                proptest::prop_assert_eq!(url.origin(), base().origin());
                proptest::prop_assert!(url.path().starts_with("/media/"), "{}", url);
                proptest::prop_assert!(!url.path().split('/').any(|s| s == ".." || s == "."), "{}", url);
            }
        }
    }
}
