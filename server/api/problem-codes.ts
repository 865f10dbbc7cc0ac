/**
 * Every problem code the API answers with (problem+json `code`, and the last part of `type`), in one
 * place: throw sites name them from here, so a client can rely on this list. Statuses are the usual
 * ones for each code; the throw site gives the status with the code.
 */
export const PROBLEM = {
  /** An account with that address exists already (409). */
  accountExists: 'account_exists',
  /** Too many failed sign-ins: the account is locked for a while (423). */
  accountLocked: 'account_locked',
  /** The sign-in challenge is unknown, used or expired (401). */
  challengeInvalid: 'challenge_invalid',
  /** The resource changed meanwhile; reload and retry (409). */
  conflict: 'conflict',
  /** The database cannot be reached; Retry-After says when to retry (503). */
  databaseUnavailable: 'database_unavailable',
  /** An e-mail or SMS could not be handed to its provider (503). */
  deliveryFailed: 'delivery_failed',
  /** The dispatch request is no longer open (409). */
  dispatchClosed: 'dispatch_closed',
  /** Authenticated, but the policy refuses the action (403). */
  forbidden: 'forbidden',
  /** An error raised by Hono itself (malformed request and the like), with its status. */
  httpError: 'http_error',
  /** The requested time has passed already (422). */
  inThePast: 'in_the_past',
  /** An unexpected server error; its log lines carry the request id (500). */
  internal: 'internal',
  /** The JSON body failed validation; errors[] names the fields (400). */
  invalidBody: 'invalid_body',
  /** The booking is not possible as asked (422). */
  invalidBooking: 'invalid_booking',
  /** A one-time code is wrong or expired (401). */
  invalidCode: 'invalid_code',
  /** The consult type is unknown, retired or of another clinic (422). */
  invalidConsultType: 'invalid_consult_type',
  /** E-mail and password do not match an account (401). */
  invalidCredentials: 'invalid_credentials',
  /** The dependent cannot be created or used as asked (422). */
  invalidDependent: 'invalid_dependent',
  /** The doctors named are not eligible (422). */
  invalidDoctors: 'invalid_doctors',
  /** A request header failed validation (400). */
  invalidHeader: 'invalid_header',
  /** A path parameter failed validation (400). */
  invalidPath: 'invalid_path',
  /** The query string failed validation (400). */
  invalidQuery: 'invalid_query',
  /** The refresh token is unknown or expired (401). */
  invalidRefreshToken: 'invalid_refresh_token',
  /** The care relationship cannot be created as asked (422). */
  invalidRelationship: 'invalid_relationship',
  /** The request is well-formed but invalid as a whole (400). */
  invalidRequest: 'invalid_request',
  /** The appointment cannot move to that status from its current one (409). */
  invalidTransition: 'invalid_transition',
  /** The invitation was accepted already (409). */
  invitationAccepted: 'invitation_accepted',
  /** The invitation is unknown, revoked or expired (410). */
  invitationInvalid: 'invitation_invalid',
  /** The invitation is for another address or role (403). */
  invitationMismatch: 'invitation_mismatch',
  /** The chosen second factor is not set up for the account (422). */
  mfaUnavailable: 'mfa_unavailable',
  /** The doctor has no published availability there (422). */
  noSchedule: 'no_schedule',
  /** The doctor holds no valid licence for the patient's jurisdiction (422). */
  noValidLicence: 'no_valid_licence',
  /** No such resource, or one the caller may not know of (404). */
  notFound: 'not_found',
  /** The consultation is not open for the call (yet, or any more) (409). */
  notJoinable: 'not_joinable',
  /** The time is not on the consult type's slot grid (422). */
  offSlotGrid: 'off_slot_grid',
  /** The doctor declined this offer already (409). */
  offerAlreadyDeclined: 'offer_already_declined',
  /** The offer was declined (409). */
  offerDeclined: 'offer_declined',
  /** The offer has not reached this doctor yet (409). */
  offerNotOpenYet: 'offer_not_open_yet',
  /** The time is outside the doctor's availability (422). */
  outsideAvailability: 'outside_availability',
  /** Sign-in is busy; Retry-After says when to retry (503). */
  overloaded: 'overloaded',
  /** The account must change its one-time password first (403). */
  passwordChangeRequired: 'password_change_required',
  /** The new password equals the current one (422). */
  passwordUnchanged: 'password_unchanged',
  /** The patient has another appointment at that time (409). */
  patientBusy: 'patient_busy',
  /** The request body exceeds the limit (413). */
  payloadTooLarge: 'payload_too_large',
  /** Too many attempts; Retry-After says when to retry (429). */
  rateLimited: 'rate_limited',
  /** A refresh token was used twice: the session is revoked (401). */
  refreshTokenReused: 'refresh_token_reused',
  /** The session has expired (401). */
  sessionExpired: 'session_expired',
  /** The session was idle longer than the clinic allows (401). */
  sessionIdleTimeout: 'session_idle_timeout',
  /** The session was signed out or revoked (401). */
  sessionRevoked: 'session_revoked',
  /** The doctor is booked at that time already (409). */
  slotTaken: 'slot_taken',
  /** The access token has expired; refresh it (401). */
  tokenExpired: 'token_expired',
  /** The access token is malformed or not ours (401). */
  tokenInvalid: 'token_invalid',
  /** No join token was sent (401). */
  tokenMissing: 'token_missing',
  /** Too many one-time codes requested; wait (429). */
  tooManyCodes: 'too_many_codes',
  /** Too many invitations sent; wait (429). */
  tooManyInvitations: 'too_many_invitations',
  /** Confirm an authenticator app only after starting its set-up (409). */
  totpNotStarted: 'totp_not_started',
  /** No Authorization header: sign in first (401). */
  unauthenticated: 'unauthenticated',
  /** A readiness check is failing; checks says which (503). */
  notReady: 'not_ready',
  /** /metrics is served to METRICS_ALLOW addresses or with METRICS_TOKEN only (403). */
  metricsForbidden: 'metrics_forbidden',
  /** The ICD-10 search input is invalid (400). */
  invalidIcd10Query: 'invalid_icd10_query',
  /** A diagnosis names a code that is not in the ICD-10 list (422). */
  unknownIcd10Code: 'unknown_icd10_code',
  /** The encounter is finalised: it is never edited again, only amended with a new version (409). */
  encounterFinalised: 'encounter_finalised',
  /** The encounter lacks what finalising needs (a diagnosis) (422). */
  encounterIncomplete: 'encounter_incomplete',
  /** The draft exists: a change must name the revision it is based on with If-Match (428). */
  preconditionRequired: 'precondition_required',
  /** A webhook endpoint URL is malformed, not https, or points at a private address (422). */
  invalidWebhookUrl: 'invalid_webhook_url',
  /** A webhook subscription names an event that is not in the catalogue (422). */
  invalidWebhookEvent: 'invalid_webhook_event',
  /** The delivery is still pending: it is sent (or retried) anyway (409). */
  deliveryNotResendable: 'delivery_not_resendable',
  /** The upload to verify is not a PDF (400). */
  notAPdf: 'not_a_pdf',
  /** The upload to verify is larger than the verifier reads (413). */
  pdfTooLarge: 'pdf_too_large',
  /** The message is longer than MESSAGE_MAX_BYTES in UTF-8 (413). */
  messageTooLarge: 'message_too_large',
  /** The message has no text, or text that cannot be stored (NUL, a lone surrogate) (422). */
  messageInvalid: 'message_invalid',
  /** The message id was used for another message of this conversation (409). */
  messageIdConflict: 'message_id_conflict',
  /** Another operator took the live chat first, or it is no longer waiting (409). */
  liveChatTaken: 'livechat_taken',
  /** The operator holds as many live chats as their capacity allows (409). */
  liveChatAtCapacity: 'livechat_at_capacity',
  /** The live chat is not in a state for that (not held by the caller, closed, not closed) (409). */
  liveChatState: 'livechat_state',
  /** Only the sender edits or deletes a message, and not after it was deleted; file messages are not edited (409). */
  messageNotEditable: 'message_not_editable',
  /** A file message names a file that is not one of this conversation's (unknown, or another's) (422). */
  messageFileUnknown: 'message_file_unknown',
  /** A stored message failed authentication (altered bytes or a wrong key): it is not shown (500). */
  messageUnreadable: 'message_unreadable',
  /** No such upload (unknown, or not this uploader's) (404). */
  uploadNotFound: 'upload_not_found',
  /** The PATCH's Upload-Offset is not where the upload stands: HEAD it and continue from there (409). */
  uploadOffsetMismatch: 'upload_offset_mismatch',
  /** The tus request is malformed (headers, metadata, content type, a body past Upload-Length) (400). */
  uploadMalformed: 'upload_malformed',
  /** The upload is complete already: nothing more can be written to it (409). */
  uploadComplete: 'upload_complete',
  /** The file is larger than the clinic allows (413). */
  fileTooLarge: 'file_too_large',
  /** The declared type is not allowed by the clinic, or the bytes are not of the declared type (415). */
  fileTypeRefused: 'file_type_refused',
  /** The download link is malformed, expired, or not for this file or this user (403). */
  fileLinkInvalid: 'file_link_invalid',
  /** The file is not completely uploaded yet (409). */
  fileIncomplete: 'file_incomplete',
  /** The stored file failed authentication (altered or cut bytes, a wrong key): nothing of it is served (500). */
  fileUnreadable: 'file_unreadable',
  /** The clinic API key is missing, malformed or unknown, or its secret does not match (401). */
  apiKeyInvalid: 'api_key_invalid',
  /** The clinic API key was revoked (401). */
  apiKeyRevoked: 'api_key_revoked',
  /** The clinic API key lacks the scope this call needs (403). */
  apiKeyScope: 'api_key_scope',
  /** The widget session token is malformed, not ours, or its key was revoked (401). */
  widgetTokenInvalid: 'widget_token_invalid',
  /** The widget session token has expired; the clinic's site mints a new one (401). */
  widgetTokenExpired: 'widget_token_expired',
  /** The clinic's patient id is linked to another patient than the appointment's, or the other way round (409). */
  externalPatientMismatch: 'external_patient_mismatch',
  /** The clinic's patient id is linked to no patient yet: name an appointment the first time (404). */
  externalPatientUnknown: 'external_patient_unknown',
  /** The page or call comes from a site the clinic does not allow (403). */
  originNotAllowed: 'origin_not_allowed',
  /** The client accepts no format the FHIR API answers in (application/fhir+json) (406). */
  notAcceptable: 'not_acceptable',
  /** The body is not in a format the FHIR API reads (application/fhir+json) (415). */
  unsupportedMediaType: 'unsupported_media_type',
} as const;

export type ProblemCode = (typeof PROBLEM)[keyof typeof PROBLEM];
