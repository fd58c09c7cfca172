//! [`TileError`] and the one table from errors to HTTP statuses (like TiTiler's
//! `DEFAULT_STATUS_CODES`): every handler returns `Result<_, TileError>` and only
//! [`TileError::status`] decides the status.

use tilefn_cog::CogError;
use tilefn_storage::StorageError;

/// Why a request failed.
///
/// 4xx variants carry a message meant for the client; 5xx variants carry detail for the log
/// only, and the client gets [`public_message`](Self::public_message).
#[derive(Debug, thiserror::Error)]
pub enum TileError {
    /// A query parameter or path part is malformed; the message names it.
    #[error("{param}: {message}")]
    BadParam {
        param: &'static str,
        message: String,
    },
    /// `formula=` does not parse (or breaks a formula limit): where, and what was expected.
    #[error("formula: {message}")]
    BadFormula { position: usize, message: String },
    /// No such route, layer, legend or version.
    #[error("{0}")]
    NotFound(String),
    /// A method other than GET, HEAD and OPTIONS.
    #[error("method {0} is not allowed")]
    MethodNotAllowed(String),
    /// The store failed (network, permissions, throttling, an object listed but gone).
    #[error("storage: {0}")]
    Storage(StorageError),
    /// An object changed under the request, and the retry with a fresh manifest too.
    #[error("object changed mid-request: {0}")]
    Changed(StorageError),
    /// Stored bytes (manifest, legend, COG) are malformed or exceed a limit.
    #[error("corrupt data: {0}")]
    Corrupt(String),
    /// A stored COG uses a TIFF feature the reader does not handle.
    #[error("unsupported data: {0}")]
    Unsupported(String),
    /// Rendering or encoding failed.
    #[error("render: {0}")]
    Render(String),
}

impl TileError {
    /// A [`BadParam`](Self::BadParam).
    pub fn bad(param: &'static str, message: impl Into<String>) -> Self {
        TileError::BadParam {
            param,
            message: message.into(),
        }
    }

    /// The HTTP status: the single error → status table.
    pub fn status(&self) -> u16 {
        match self {
            TileError::BadParam { .. } | TileError::BadFormula { .. } => 400,
            TileError::NotFound(_) => 404,
            TileError::MethodNotAllowed(_) => 405,
            TileError::Corrupt(_) | TileError::Unsupported(_) | TileError::Render(_) => 500,
            TileError::Storage(_) => 502,
            TileError::Changed(_) => 503,
        }
    }

    /// The stable machine-readable code in the JSON body.
    pub fn code(&self) -> &'static str {
        match self {
            TileError::BadParam { .. } => "bad_request",
            TileError::BadFormula { .. } => "bad_formula",
            TileError::NotFound(_) => "not_found",
            TileError::MethodNotAllowed(_) => "method_not_allowed",
            TileError::Storage(_) => "storage_error",
            TileError::Changed(_) => "changed",
            TileError::Corrupt(_) => "corrupt_data",
            TileError::Unsupported(_) => "unsupported_data",
            TileError::Render(_) => "render_error",
        }
    }

    /// What the client is told: the full message for 4xx, a fixed sentence for 5xx (internal
    /// detail such as keys, backend messages or byte offsets is only logged).
    pub fn public_message(&self) -> String {
        match self {
            TileError::Storage(_) => "the tile store failed; try again later".to_owned(),
            TileError::Changed(_) => "the layer is being republished; try again".to_owned(),
            TileError::Corrupt(_) => "stored data is corrupt".to_owned(),
            TileError::Unsupported(_) => "stored data uses an unsupported format".to_owned(),
            TileError::Render(_) => "the tile could not be rendered".to_owned(),
            other => other.to_string(),
        }
    }

    /// The JSON body `{"error": {"code": ..., "message": ...}}`, plus `"position"` (a byte
    /// offset into the formula) for `bad_formula`.
    pub fn body(&self) -> Vec<u8> {
        let mut error =
            serde_json::json!({ "code": self.code(), "message": self.public_message() });
        if let (TileError::BadFormula { position, .. }, Some(map)) = (self, error.as_object_mut()) {
            map.insert("position".to_owned(), serde_json::json!(position));
        }
        let value = serde_json::json!({ "error": error });
        value.to_string().into_bytes()
    }

    /// Whether the failure may come from a stale manifest (an object replaced or removed by
    /// a newer publish), so a retry with a fresh manifest can succeed.
    pub(crate) fn is_stale(&self) -> bool {
        matches!(
            self,
            TileError::Changed(_) | TileError::Storage(StorageError::NotFound { .. })
        )
    }
}

impl From<StorageError> for TileError {
    fn from(err: StorageError) -> Self {
        match err {
            StorageError::Precondition { .. } => TileError::Changed(err),
            // A header pointing past the end of its object, or an oversized manifest.
            StorageError::OutOfRange { .. }
            | StorageError::InvalidRange { .. }
            | StorageError::TooLarge { .. }
            | StorageError::InvalidUrl { .. } => TileError::Corrupt(err.to_string()),
            other => TileError::Storage(other),
        }
    }
}

impl From<CogError> for TileError {
    fn from(err: CogError) -> Self {
        match err {
            CogError::Unsupported(m) => TileError::Unsupported(m),
            other => TileError::Corrupt(other.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_table() {
        let cases = [
            (TileError::bad("z", "x"), 400, "bad_request"),
            (TileError::NotFound("layer".into()), 404, "not_found"),
            (
                TileError::MethodNotAllowed("POST".into()),
                405,
                "method_not_allowed",
            ),
            (TileError::Corrupt("x".into()), 500, "corrupt_data"),
            (
                StorageError::Backend {
                    key: "k".into(),
                    message: "secret".into(),
                }
                .into(),
                502,
                "storage_error",
            ),
            (
                StorageError::Precondition {
                    expected: "a".into(),
                    actual: None,
                }
                .into(),
                503,
                "changed",
            ),
        ];
        for (err, status, code) in cases {
            assert_eq!((err.status(), err.code()), (status, code), "{err:?}");
            if status >= 500 {
                assert!(!err.public_message().contains("secret"));
            }
        }
    }

    #[test]
    fn bad_formulas_carry_the_position() {
        let err = TileError::BadFormula {
            position: 2,
            message: "at byte 2: expected a number, found end of formula".into(),
        };
        assert_eq!(err.status(), 400);
        let body: serde_json::Value = serde_json::from_slice(&err.body()).unwrap_or_default();
        assert_eq!(body["error"]["code"], "bad_formula");
        assert_eq!(body["error"]["position"], 2);
        assert_eq!(
            body["error"]["message"],
            "formula: at byte 2: expected a number, found end of formula"
        );
    }

    #[test]
    fn bad_params_name_the_parameter() {
        let err = TileError::bad("rescale", "expected two numbers lo,hi");
        assert_eq!(err.public_message(), "rescale: expected two numbers lo,hi");
        let body: serde_json::Value = serde_json::from_slice(&err.body()).unwrap_or_default();
        assert_eq!(body["error"]["code"], "bad_request");
    }
}
