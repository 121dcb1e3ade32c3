//! pipec's monitoring statistics (skeleton; being written).
