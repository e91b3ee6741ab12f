//! The wire protocol: message envelopes, requests, responses and error codes, encoded with
//! postcard under explicit size limits.

mod ids;

pub use ids::ObjectId;
