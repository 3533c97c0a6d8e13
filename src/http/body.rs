//! A request body read whole, up to [`MAX_BODY_BYTES`]. Past the limit the answer is 413; on
//! HTTP/2 the rest of the upload is first read and discarded (up to [`MAX_DISCARDED_BYTES`]), so
//! the client finishes sending and reads its 413, where a stream reset in the middle of its
//! upload would reach it as a stream error instead (HTTP/1.1 clients read the early answer).

use axum::body::{Body, Bytes};
use axum::http::Version;
use futures_util::StreamExt;

use super::MAX_BODY_BYTES;

/// The most of an oversized HTTP/2 upload read and thrown away before answering; past it the
/// stream is reset, since no client of a 64 KiB API sends that much.
pub const MAX_DISCARDED_BYTES: usize = 16 * 1024 * 1024;

/// The body was larger than [`MAX_BODY_BYTES`], or its upload failed.
#[derive(Debug)]
pub struct Unreadable;

/// The whole body, or [`Unreadable`]. A body of one chunk (the usual request) is not copied.
pub async fn read_bounded(body: Body, version: Version) -> Result<Bytes, Unreadable> {
    let mut chunks = body.into_data_stream();
    let mut first = Bytes::new();
    let mut joined: Option<Vec<u8>> = None;
    let mut length = 0usize;
    while let Some(chunk) = chunks.next().await {
        let chunk = chunk.map_err(|_| Unreadable)?;
        length += chunk.len();
        if length > MAX_BODY_BYTES {
            if version == Version::HTTP_2 {
                discard(chunks, length).await;
            }
            return Err(Unreadable);
        }
        match &mut joined {
            Some(joined) => joined.extend_from_slice(&chunk),
            None if first.is_empty() => first = chunk,
            None => {
                let mut both = Vec::with_capacity(first.len() + chunk.len());
                both.extend_from_slice(&first);
                both.extend_from_slice(&chunk);
                joined = Some(both);
            }
        }
    }
    Ok(joined.map_or(first, Bytes::from))
}

/// Reads the rest of an upload without keeping it, up to [`MAX_DISCARDED_BYTES`] in all.
async fn discard(mut chunks: axum::body::BodyDataStream, mut length: usize) {
    while length <= MAX_DISCARDED_BYTES {
        match chunks.next().await {
            Some(Ok(chunk)) => length += chunk.len(),
            _ => return,
        }
    }
}
