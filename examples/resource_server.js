// A service that accepts only delegated tokens for its audience: tokens the IdP issued to App A for
// a user by RFC 8693 token exchange (aud app-b, act = app-a). Anything else gets a RFC 6750 answer.
//   ISSUER=http://localhost:9000 PORT=4000 node resource_server.js
import { createServer } from 'node:http'
import {
  bearerErrorResponse,
  createAccessTokenVerifier,
  createBearerAuthenticator,
} from 'onbehalf/resource'

const issuer = process.env.ISSUER ?? 'http://localhost:9000'
const verifier = createAccessTokenVerifier({
  issuer,
  audience: 'app-b',
  jwksUri: process.env.JWKS_URI ?? `${issuer}/jwks`,
  allowedCallers: ['app-a'], // who may act: the outermost act and azp/client_id
  requireActor: true, // a service's own token or the user's login token is refused
})
const authenticate = createBearerAuthenticator({ verifier, scopes: ['todos:read'] })

const server = createServer(async (request, response) => {
  try {
    const token = await authenticate(request)
    response.writeHead(200, { 'content-type': 'application/json' })
    response.end(JSON.stringify({ user: token.sub, actors: token.actorChain }))
  } catch (error) {
    const { statusCode, headers, body } = bearerErrorResponse(error, 'app-b')
    response.writeHead(statusCode, headers).end(JSON.stringify(body))
  }
})
server.listen(Number(process.env.PORT ?? 4000), '127.0.0.1', () => {
  const { port } = /** @type {import('node:net').AddressInfo} */ (server.address())
  console.log(`listening on http://127.0.0.1:${port}`)
})
