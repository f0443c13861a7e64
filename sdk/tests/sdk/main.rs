//! media-sdk integration tests: one binary, one module per area.
mod fuzz;
mod session_vectors;
mod settlement_size;
mod vectors;
