//! pipec's audit log (skeleton; being written).
