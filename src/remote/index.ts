/** Remote databases over HTTP: the Peer surface for any CouchDB-compatible URL. */
export { readChanges } from './changes-reader.js';
export {
  IncompleteResponseError,
  isTransientFailure,
  PeerUnreachableError,
  RemoteError,
  RetriesExhaustedError,
  remoteError,
  StallTimeoutError,
} from './errors.js';
export {
  type Credentials,
  HttpClient,
  type HttpClientOptions,
  type HttpRequest,
  HttpResponse,
  type QueryValue,
  type SentRequest,
  withoutCredentials,
} from './http.js';
export {
  encodeDocId,
  parseDbUrl,
  RemoteDatabase,
  type RemoteDatabaseOptions,
  type RemoteDbInfo,
} from './remote-database.js';
