//! Loading numeric tables (comma-separated, one row per line) into 2-D tensors, from text,
//! readers or files (gzip-compressed when the file name ends in `.gz`).

use super::Tensor;
use crate::error::{Error, Result};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

impl Tensor {
    /// Parses a numeric CSV table into a `[rows, columns]` tensor. Blank lines are skipped;
    /// every row must have the same number of columns. A first line that does not parse as
    /// numbers is taken as a header and skipped.
    ///
    /// ```
    /// use privgrid::Tensor;
    /// let t = Tensor::from_csv_str("weight,height\n3.2,49\n3.5,51\n")?;
    /// assert_eq!(t.shape(), &[2, 2]);
    /// # Ok::<(), privgrid::Error>(())
    /// ```
    pub fn from_csv_str(text: &str) -> Result<Tensor> {
        Self::from_csv_reader(text.as_bytes())
    }

    /// Parses a numeric CSV table from any reader (see [`Tensor::from_csv_str`]).
    pub fn from_csv_reader(reader: impl Read) -> Result<Tensor> {
        let mut values = Vec::new();
        let mut columns: Option<usize> = None;
        let mut rows = 0usize;
        for (number, line) in BufReader::new(reader).lines().enumerate() {
            let line = line?;
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let parsed: std::result::Result<Vec<f32>, _> =
                line.split(',').map(|f| f.trim().parse::<f32>()).collect();
            let row = match parsed {
                Ok(row) => row,
                Err(_) if rows == 0 && columns.is_none() => {
                    columns = Some(line.split(',').count());
                    continue; // a header line
                }
                Err(e) => {
                    return Err(Error::InvalidInput(format!(
                        "csv line {}: {e}: {line:.60}",
                        number + 1
                    )));
                }
            };
            match columns {
                Some(c) if c != row.len() => {
                    return Err(Error::InvalidInput(format!(
                        "csv line {}: expected {c} columns, found {}",
                        number + 1,
                        row.len()
                    )));
                }
                _ => columns = Some(row.len()),
            }
            values.extend_from_slice(&row);
            rows += 1;
        }
        Ok(Tensor::from_shape_vec(
            &[rows, columns.unwrap_or(0)],
            values,
        )?)
    }

    /// Reads a numeric CSV file; a name ending in `.gz` is decompressed on the fly.
    pub fn from_csv_path(path: impl AsRef<Path>) -> Result<Tensor> {
        let path = path.as_ref();
        let file = std::fs::File::open(path)?;
        if path.extension().is_some_and(|e| e == "gz") {
            Self::from_csv_reader(flate2::read::GzDecoder::new(file))
        } else {
            Self::from_csv_reader(file)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_table_with_header_and_blank_lines() {
        let t = Tensor::from_csv_str("a,b\n1,2\n\n3, 4.5\n").unwrap();
        assert_eq!(t.shape(), &[2, 2]);
        assert_eq!(t.to_vec(), vec![1.0, 2.0, 3.0, 4.5]);
    }

    #[test]
    fn ragged_and_non_numeric_rows_are_errors_with_line_numbers() {
        let e = Tensor::from_csv_str("1,2\n3\n").unwrap_err().to_string();
        assert!(
            e.contains("line 2") && e.contains("expected 2 columns"),
            "{e}"
        );
        let e = Tensor::from_csv_str("1,2\n3,x\n").unwrap_err().to_string();
        assert!(e.contains("line 2"), "{e}");
    }

    #[test]
    fn reads_the_gzipped_digits_table() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/data/digits.csv.gz");
        let t = Tensor::from_csv_path(path).unwrap();
        assert_eq!(t.shape(), &[1797, 65]);
    }
}
