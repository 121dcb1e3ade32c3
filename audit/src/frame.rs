//! One frame: `u32 LE payload length | u32 LE CRC-32 of the payload | payload`, where the
//! payload is the postcard encoding of an [`AuditRecord`].

use crate::record::AuditRecord;
use std::io::Read;

/// Bytes before the payload: length and checksum.
pub(crate) const FRAME_HEADER_BYTES: usize = 8;

/// Largest payload accepted, in writing and in reading; a bigger length field is damage.
pub(crate) const MAX_PAYLOAD_BYTES: u32 = 1 << 30;

/// Encodes a record as a complete frame.
pub(crate) fn encode(record: &AuditRecord) -> Result<Vec<u8>, String> {
    let payload = postcard::to_stdvec(record).map_err(|e| format!("encoding record: {e}"))?;
    let len = u32::try_from(payload.len())
        .ok()
        .filter(|&len| len <= MAX_PAYLOAD_BYTES)
        .ok_or_else(|| format!("record of {} bytes exceeds the {MAX_PAYLOAD_BYTES}-byte limit", payload.len()))?;
    let mut frame = Vec::with_capacity(FRAME_HEADER_BYTES + payload.len());
    frame.extend_from_slice(&len.to_le_bytes());
    frame.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    frame.extend_from_slice(&payload);
    Ok(frame)
}

/// What the next frame of a segment turned out to be.
#[derive(Debug)]
pub(crate) enum FrameRead {
    /// A good frame of `bytes` bytes (header included).
    Record { record: AuditRecord, bytes: u64 },
    /// Clean end of the data: no byte after the previous frame.
    End,
    /// The data ends inside this frame (a torn write).
    Torn(String),
    /// The frame is complete but wrong: bad length, checksum mismatch, or it does not decode.
    Bad(String),
}

/// Reads the next frame from `input`, which is positioned at a frame boundary.
pub(crate) fn read(input: &mut impl Read) -> std::io::Result<FrameRead> {
    let mut header = [0u8; FRAME_HEADER_BYTES];
    let got = read_full(input, &mut header)?;
    if got == 0 {
        return Ok(FrameRead::End);
    }
    if got < FRAME_HEADER_BYTES {
        return Ok(FrameRead::Torn(format!("frame header cut short ({got} of {FRAME_HEADER_BYTES} bytes)")));
    }
    let len = u32::from_le_bytes([header[0], header[1], header[2], header[3]]);
    let stored_crc = u32::from_le_bytes([header[4], header[5], header[6], header[7]]);
    if len == 0 {
        return Ok(FrameRead::Bad("frame with an empty payload".into()));
    }
    if len > MAX_PAYLOAD_BYTES {
        return Ok(FrameRead::Bad(format!("frame length {len} exceeds the {MAX_PAYLOAD_BYTES}-byte limit")));
    }
    // Grow as data arrives rather than trusting the length field for the allocation.
    let mut payload = Vec::with_capacity((len as usize).min(1 << 20));
    input.take(u64::from(len)).read_to_end(&mut payload)?;
    if payload.len() < len as usize {
        return Ok(FrameRead::Torn(format!("payload cut short ({} of {len} bytes)", payload.len())));
    }
    let crc = crc32fast::hash(&payload);
    if crc != stored_crc {
        return Ok(FrameRead::Bad(format!("checksum mismatch (stored {stored_crc:08x}, computed {crc:08x})")));
    }
    match postcard::take_from_bytes::<AuditRecord>(&payload) {
        Ok((record, [])) => Ok(FrameRead::Record { record, bytes: FRAME_HEADER_BYTES as u64 + u64::from(len) }),
        Ok((_, rest)) => Ok(FrameRead::Bad(format!("record does not decode: {} trailing bytes", rest.len()))),
        Err(e) => Ok(FrameRead::Bad(format!("record does not decode: {e}"))),
    }
}

/// Reads until `buf` is full or the input ends; returns the bytes read.
pub(crate) fn read_full(input: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match input.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}
