//! How many bytes of JSON a replay will read, for its progress and ETA: a plain file's size, and
//! a gzip file's uncompressed size from its trailer.

use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

use super::Input;

/// The bytes of JSON `inputs` hold, or `None` when that is not known before reading (an
/// `s3://` prefix, or a file that cannot be read now: reading it will report why).
pub fn total_bytes(inputs: &[Input]) -> Option<u64> {
    inputs.iter().try_fold(0u64, |total, input| match input {
        Input::File(path) => Some(total + json_bytes(path)?),
        Input::S3(_) => None,
    })
}

/// A gzip file's trailer holds its uncompressed size modulo 2^32 (RFC 1952, ISIZE): exact for
/// the single-member files of up to 4 GiB tunestream and most tools write.
fn json_bytes(path: &Path) -> Option<u64> {
    let mut file = std::fs::File::open(path).ok()?;
    let size = file.metadata().ok()?.len();
    let mut magic = [0u8; 2];
    if size < 18 || file.read_exact(&mut magic).is_err() || magic != [0x1f, 0x8b] {
        return Some(size);
    }
    let mut trailer = [0u8; 4];
    file.seek(SeekFrom::End(-4)).ok()?;
    file.read_exact(&mut trailer).ok()?;
    Some(u64::from(u32::from_le_bytes(trailer)))
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn plain_files_count_their_size_and_gzip_files_their_uncompressed_size() {
        let dir = tempfile::tempdir().unwrap();
        let plain = dir.path().join("a.ndjson");
        std::fs::write(&plain, "{\"a\":1}\n".repeat(10)).unwrap();
        let gz = dir.path().join("b.ndjson.gz");
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all("{\"b\":1}\n".repeat(1000).as_bytes()).unwrap();
        std::fs::write(&gz, encoder.finish().unwrap()).unwrap();
        let inputs = [Input::File(plain), Input::File(gz)];
        assert_eq!(total_bytes(&inputs), Some(80 + 8000));
        let s3 = Input::S3(crate::store::Location::parse("s3://bucket/pages").unwrap());
        assert_eq!(total_bytes(&[inputs[0].clone(), s3]), None);
    }
}
