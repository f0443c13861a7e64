//! Every JSON example in the wire documentation (`docs/relay-protocol.md`,
//! `docs/keeper-api.md`) is one of `media_sdk::api`'s types exactly: it parses, and writing
//! it back gives the same JSON, so the docs and the code cannot drift apart.
use media_sdk::api::{gateway, keeper, relay, ErrorBody};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::Value;

/// The fenced ```json blocks of `doc`, with the line each starts on.
fn json_blocks(doc: &str) -> Vec<(usize, String)> {
    let mut blocks = Vec::new();
    let mut current: Option<(usize, String)> = None;
    for (n, line) in doc.lines().enumerate() {
        match (&mut current, line.trim_start()) {
            (None, "```json") => current = Some((n + 1, String::new())),
            (Some(_), "```") => blocks.extend(current.take()),
            (Some((_, text)), _) => {
                text.push_str(line);
                text.push('\n');
            }
            (None, _) => {}
        }
    }
    blocks
}

/// Whether `value` is exactly a `T`.
fn is<T: DeserializeOwned + Serialize>(value: &Value) -> bool {
    serde_json::from_value::<T>(value.clone())
        .ok()
        .and_then(|typed| serde_json::to_value(typed).ok())
        .is_some_and(|back| &back == value)
}

/// An API type's name and its exactness check.
type Kind = (&'static str, fn(&Value) -> bool);

fn typed(value: &Value) -> Option<&'static str> {
    let kinds: [Kind; 11] = [
        ("gateway::SessionRequest", is::<gateway::SessionRequest>),
        ("gateway::SessionResponse", is::<gateway::SessionResponse>),
        ("gateway::CosignRequest", is::<gateway::CosignRequest>),
        ("gateway::CosignResponse", is::<gateway::CosignResponse>),
        ("gateway::RelaysResponse", is::<gateway::RelaysResponse>),
        ("relay::ReceiptAnswer", is::<relay::ReceiptAnswer>),
        ("relay::RelayHealth", is::<relay::RelayHealth>),
        ("keeper::IngestRequest", is::<keeper::IngestRequest>),
        ("keeper::IngestResponse", is::<keeper::IngestResponse>),
        ("keeper::IngestResult", is::<keeper::IngestResult>),
        ("ErrorBody", is::<ErrorBody>),
    ];
    kinds
        .iter()
        .find(|(_, is)| is(value))
        .map(|(name, _)| *name)
}

#[test]
fn every_json_example_in_the_wire_docs_is_an_api_type() {
    let docs = concat!(env!("CARGO_MANIFEST_DIR"), "/../docs");
    let mut seen = Vec::new();
    for file in ["relay-protocol.md", "keeper-api.md"] {
        let text = std::fs::read_to_string(format!("{docs}/{file}")).unwrap();
        let blocks = json_blocks(&text);
        assert!(!blocks.is_empty(), "{file} has no JSON examples");
        for (line, block) in blocks {
            let value: Value = serde_json::from_str(&block)
                .unwrap_or_else(|e| panic!("{file}:{line}: not JSON: {e}\n{block}"));
            let kind = typed(&value)
                .unwrap_or_else(|| panic!("{file}:{line}: no media_sdk::api type is\n{block}"));
            seen.push(kind);
        }
    }
    // Every exchange is documented by at least one example.
    for kind in [
        "gateway::SessionRequest",
        "gateway::SessionResponse",
        "gateway::CosignRequest",
        "gateway::CosignResponse",
        "gateway::RelaysResponse",
        "relay::ReceiptAnswer",
        "relay::RelayHealth",
        "keeper::IngestRequest",
        "keeper::IngestResponse",
    ] {
        assert!(seen.contains(&kind), "no example of {kind}: {seen:?}");
    }
}

#[test]
fn a_renamed_field_is_not_an_api_type() {
    let renamed: Value = serde_json::from_str(r#"{"acked": 1, "duplicated": false}"#).unwrap();
    assert_eq!(typed(&renamed), None);
}
