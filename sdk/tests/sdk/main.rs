//! media-sdk integration tests: one binary, one module per area.
mod settlement_size;
mod vectors;
