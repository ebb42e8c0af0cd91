// App A's side: trade the signed-in user's access token for one addressed to App B (RFC 8693),
// then call App B with it. The cache serves the second call without asking the IdP again.
//   SUBJECT_TOKEN=<the user's access token> CLIENT_SECRET=<app-a's secret> node client.js
import { createTokenExchangeClient, ExchangedTokenCache } from 'onbehalf/client'

const { SUBJECT_TOKEN: subjectToken, CLIENT_SECRET: clientSecret } = process.env
if (!subjectToken || !clientSecret) throw new Error('set SUBJECT_TOKEN and CLIENT_SECRET')
const issuer = process.env.ISSUER ?? 'http://localhost:9000'
const exchanger = createTokenExchangeClient({
  tokenEndpoint: process.env.TOKEN_ENDPOINT ?? `${issuer}/token`, // any RFC 8693 endpoint
  clientId: process.env.CLIENT_ID ?? 'app-a',
  clientSecret,
  cache: new ExchangedTokenCache(),
})
const serviceUrl = process.env.SERVICE_URL ?? 'http://127.0.0.1:4000'

for (const call of [1, 2]) {
  const exchanged = await exchanger.exchange({
    subjectToken,
    audience: 'app-b',
    scope: 'todos:read',
  })
  const response = await fetch(serviceUrl, {
    headers: { authorization: `Bearer ${exchanged.accessToken}` },
  })
  const body = await response.json()
  console.log(
    JSON.stringify({ call, fromCache: exchanged.fromCache, status: response.status, body }),
  )
}
