//! The protocols the server speaks: the Open Inference Protocol (v2) over HTTP/1.1 REST
//! (`http.rs`, with the binary tensor data extension) and over gRPC (`grpc/`), on listeners
//! that may be TLS (`listen.rs`, `tls.rs`) and guarded by bearer tokens (`auth.rs`).
//!
//! Both protocols call one entry point, `infer::infer`: it checks the request against the
//! pipeline (`decode.rs`, with the protocol's datatypes and shapes in `tensors.rs`), queues it
//! for the workers, and encodes the request's outcome into the answer (`encode.rs`). `oip.rs`
//! holds the protocol's JSON messages, `error.rs` the error answer; `decode_fuzz.rs` fuzzes the
//! decoder (tests only).

pub mod auth;
pub mod decode;
#[cfg(test)]
mod decode_fuzz;
pub mod encode;
pub mod error;
pub mod grpc;
pub mod http;
pub mod infer;
pub mod listen;
pub mod oip;
pub mod tensors;
pub mod tls;
