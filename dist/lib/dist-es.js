import { f as fromEnv } from './store.js';
export { E as ENV_ACCOUNT_ID, a as ENV_CREDENTIAL_SCOPE, b as ENV_EXPIRATION, c as ENV_KEY, d as ENV_SECRET, e as ENV_SESSION } from './store.js';
import 'node:fs/promises';
import './lock.js';
import 'node:path';
import 'node:crypto';
import 'node:child_process';
import 'node:os';
import 'node:stream';
import 'node:zlib';
import 'node:fs';
import './loadSharedConfigFiles.js';
import './readFile.js';
import './configLoader.js';
import './chain.js';
import './CredentialsProviderError.js';
import './hex-encoding.js';
import 'events';
import 'buffer';
import 'stream';
import './node-http-handler.js';
import 'node:https';
import './EventStreamSerdeConfig.js';
import './setCredentialFeature.js';
import 'node:process';



export { fromEnv };
