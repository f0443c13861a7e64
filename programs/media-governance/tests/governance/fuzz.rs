//! Instruction data decoding, fuzzed (bounded) through the program's dispatcher: any bytes
//! after any instruction's discriminator, or none, are refused with an error, never a panic.
use media_test_harness::fuzz;

#[test]
fn any_instruction_data_is_refused_with_an_error_not_a_panic() {
    fuzz::instruction_data_is_refused_without_panics(&fuzz::media_governance(), 1_000);
}
