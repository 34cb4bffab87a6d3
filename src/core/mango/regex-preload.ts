/**
 * Loads the `$regex` engine up front, for Node: importing this module is enough (the Node entry
 * does). Browsers skip it and load the engine when a selector first needs it (`regex.ts`).
 */
import { RE2JS } from 're2js';
import { useRegexEngine } from './regex.js';

useRegexEngine(RE2JS);
