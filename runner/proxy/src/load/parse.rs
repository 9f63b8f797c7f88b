//! HTTP/1.x response parsing for the load generator.

use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt};

use super::BODY_PREFIX;

/// A parsed response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers, names lower-cased, in order.
    pub headers: Vec<(String, String)>,
    /// First [`BODY_PREFIX`] bytes of the body.
    pub body: String,
    /// The server will close the connection after this response.
    pub close: bool,
}

impl Response {
    /// First header value named `name` (lower case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

async fn read_line<R: AsyncBufRead + Unpin>(r: &mut R, buf: &mut Vec<u8>) -> Result<(), String> {
    buf.clear();
    let n = r
        .read_until(b'\n', buf)
        .await
        .map_err(|e| format!("read: {e}"))?;
    if n == 0 {
        return Err("connection closed before the response was complete".into());
    }
    while buf.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
        buf.pop();
    }
    Ok(())
}

fn keep(body: &mut Vec<u8>, data: &[u8]) {
    let room = BODY_PREFIX.saturating_sub(body.len());
    body.extend_from_slice(&data[..room.min(data.len())]);
}

/// Reads one HTTP/1.x response (Content-Length, chunked, or until EOF).
/// `head` marks a response to `HEAD` (no body).
pub async fn read_response<R: AsyncBufRead + Unpin>(
    r: &mut R,
    head: bool,
) -> Result<Response, String> {
    let mut line = Vec::new();
    let (status, http10, headers) = loop {
        read_line(r, &mut line).await?;
        let text = String::from_utf8_lossy(&line).to_string();
        let mut parts = text.splitn(3, ' ');
        let version = parts.next().unwrap_or("");
        if !version.starts_with("HTTP/1.") {
            return Err(format!("invalid status line {text:?}"));
        }
        let status: u16 = parts
            .next()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("invalid status line {text:?}"))?;
        let mut headers = Vec::new();
        loop {
            read_line(r, &mut line).await?;
            if line.is_empty() {
                break;
            }
            let h = String::from_utf8_lossy(&line);
            let (n, v) = h
                .split_once(':')
                .ok_or_else(|| format!("invalid header line {h:?}"))?;
            headers.push((n.trim().to_ascii_lowercase(), v.trim().to_string()));
        }
        if (100..200).contains(&status) && status != 101 {
            continue;
        }
        break (status, version == "HTTP/1.0", headers);
    };
    let has = |name: &str, token: &str| {
        headers
            .iter()
            .filter(|(n, _)| n == name)
            .any(|(_, v)| v.split(',').any(|t| t.trim().eq_ignore_ascii_case(token)))
    };
    let mut close = has("connection", "close") || (http10 && !has("connection", "keep-alive"));
    let chunked = has("transfer-encoding", "chunked");
    let length = headers
        .iter()
        .find(|(n, _)| n == "content-length")
        .map(|(_, v)| {
            v.parse::<u64>()
                .map_err(|_| format!("invalid content-length {v:?}"))
        })
        .transpose()?;
    let mut body = Vec::new();
    let mut buf = vec![0u8; 16 * 1024];
    if head || status == 204 || status == 304 {
    } else if chunked {
        loop {
            read_line(r, &mut line).await?;
            let size_text = String::from_utf8_lossy(&line);
            let size_hex = size_text.split(';').next().unwrap_or("").trim();
            let mut size = u64::from_str_radix(size_hex, 16)
                .map_err(|_| format!("invalid chunk size {size_text:?}"))?;
            if size == 0 {
                loop {
                    read_line(r, &mut line).await?;
                    if line.is_empty() {
                        break;
                    }
                }
                break;
            }
            while size > 0 {
                let want = (size as usize).min(buf.len());
                let n = r
                    .read(&mut buf[..want])
                    .await
                    .map_err(|e| format!("read: {e}"))?;
                if n == 0 {
                    return Err("connection closed in the middle of a chunk".into());
                }
                keep(&mut body, &buf[..n]);
                size -= n as u64;
            }
            read_line(r, &mut line).await?;
        }
    } else if let Some(mut left) = length {
        while left > 0 {
            let want = (left as usize).min(buf.len());
            let n = r
                .read(&mut buf[..want])
                .await
                .map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                return Err(format!("connection closed with {left} body bytes missing"));
            }
            keep(&mut body, &buf[..n]);
            left -= n as u64;
        }
    } else {
        loop {
            let n = r.read(&mut buf).await.map_err(|e| format!("read: {e}"))?;
            if n == 0 {
                break;
            }
            keep(&mut body, &buf[..n]);
        }
        close = true;
    }
    Ok(Response {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
        close,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn content_length() {
        let mut raw: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: b\r\n\r\nhelloHTTP/1.1 204 No Content\r\n\r\n";
        let r = read_response(&mut raw, false).await.unwrap();
        assert_eq!((r.status, r.body.as_str(), r.close), (200, "hello", false));
        assert_eq!(r.header("x-a"), Some("b"));
        let r = read_response(&mut raw, false).await.unwrap();
        assert_eq!((r.status, r.body.as_str()), (204, ""));
        assert!(raw.is_empty());
    }

    #[tokio::test]
    async fn chunked_with_trailers_and_continue() {
        let mut raw: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3;ext=1\r\nv2 \r\nA\r\n0123456789\r\n0\r\nX-T: 1\r\n\r\nrest";
        let r = read_response(&mut raw, false).await.unwrap();
        assert_eq!(
            (r.status, r.body.as_str(), r.close),
            (200, "v2 0123456789", true)
        );
        assert_eq!(raw, b"rest");
    }

    #[tokio::test]
    async fn until_eof_truncated_and_errors() {
        let big = "x".repeat(500);
        let text = format!("HTTP/1.0 200 OK\r\n\r\n{big}");
        let mut raw = text.as_bytes();
        let r = read_response(&mut raw, false).await.unwrap();
        assert_eq!(r.body.len(), BODY_PREFIX);
        assert!(r.close);
        let mut raw: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort";
        assert!(read_response(&mut raw, false).await.is_err());
        let mut raw: &[u8] = b"";
        assert!(read_response(&mut raw, false).await.is_err());
        let mut raw: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n";
        assert_eq!(read_response(&mut raw, true).await.unwrap().body, "");
    }
}
