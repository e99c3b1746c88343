//! How the protocol changes without breaking either end: the rules, and the tests that hold them.
//!
//! - **Requests are strict.** A reader refuses a request field it does not know (400 `VALIDATION_FAILED` naming
//!   it), so a misspelt `timout` is never silently ignored and a command never runs without the limit its caller
//!   asked for. A newer client therefore sends only the fields its caller set (every optional field is left out
//!   when unset): with an older agent, every call that uses no new option works, and one that does fails loudly.
//! - **Responses are lenient.** A reader ignores a response field it does not know, takes an error code it does
//!   not know as `Unknown` (with the HTTP status and message as sent), and reads a field an older server did not
//!   send yet as its documented default (`ExecResult::ended` from `timedOut`). So an older client keeps working
//!   against a newer agent.
//! - **Nothing is renamed or removed** within `/v1`; a field's meaning never changes. A new field is optional in
//!   requests and defaulted in responses; a new error code needs no client change to be reported.

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::{ErrorBody, ErrorCode, ExecRequest, ExecResult, SessionOptions};

    #[test]
    fn a_request_field_the_reader_does_not_know_is_refused_by_name() {
        let err = serde_json::from_value::<ExecRequest>(json!({"command": "true", "timout": 5})).unwrap_err();
        assert!(err.to_string().contains("timout"), "{err}");
        assert!(serde_json::from_value::<SessionOptions>(json!({"id": "s", "newOption": true})).is_err());
    }

    #[test]
    fn a_client_sends_only_the_fields_its_caller_set() {
        let request = ExecRequest { command: "true".into(), ..ExecRequest::default() };
        assert_eq!(serde_json::to_value(&request).unwrap(), json!({"command": "true"}));
        assert_eq!(serde_json::to_value(SessionOptions::default()).unwrap(), json!({}));
    }

    #[test]
    fn response_fields_and_error_codes_the_reader_does_not_know_are_taken_as_they_come() {
        let result: ExecResult = serde_json::from_value(json!({
            "success": true, "exitCode": 0, "stdout": "", "stderr": "", "command": "true", "duration": 1,
            "timestamp": "t", "sessionId": "default", "timedOut": false, "truncated": false, "encoding": "utf-8",
            "ended": "exited", "someFieldFromANewerAgent": {"nested": [1, 2]},
        }))
        .unwrap();
        assert_eq!(result.exit_code, 0);
        let body: ErrorBody = serde_json::from_value(json!({"code": "A_CODE_FROM_LATER", "message": "m"})).unwrap();
        assert_eq!(body.code, ErrorCode::Unknown);
        assert_eq!(body.message, "m");
    }
}
