/**
 * The client kit's one retry, against real HTTP servers on 127.0.0.1 that drop the first
 * connection (the socket is destroyed after the request arrived, before any answer), answer like a
 * load balancer whose instance died (502 text/html), or answer with an OAuth error. Each test
 * counts the requests the server really received.
 */
import assert from 'node:assert/strict'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { test, type TestContext } from 'node:test'
import {
  createRetryingFetch,
  createTokenExchangeClient,
  TokenExchangeError,
} from '../../src/client/index.js'
import { freePort } from '../helpers/topology.js'

type Step = 'drop' | 'gateway' | 'oauth-error' | 'app-unavailable' | 'ok' | 'hang'

interface Received {
  method: string
  idempotencyKey: string | undefined
  dpop: string | undefined
  body: string
}

/** A server that handles its Nth request the way `steps[N]` says (the last step repeats). */
async function scriptedServer(t: TestContext, steps: readonly Step[]) {
  const received: Received[] = []
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    let body = ''
    request.on('data', (chunk) => (body += String(chunk)))
    request.on('end', () => {
      const step = steps[Math.min(received.length, steps.length - 1)]!
      received.push({
        method: request.method ?? '',
        idempotencyKey: request.headers['idempotency-key'] as string | undefined,
        dpop: request.headers.dpop as string | undefined,
        body,
      })
      switch (step) {
        case 'drop':
          request.socket.destroy()
          return
        case 'hang':
          return
        case 'gateway':
          response
            .writeHead(502, { 'content-type': 'text/html' })
            .end('<html><body>502 Bad Gateway</body></html>')
          return
        case 'app-unavailable':
          response
            .writeHead(503, { 'content-type': 'application/json' })
            .end(JSON.stringify({ error: 'temporarily_unavailable' }))
          return
        case 'oauth-error':
          response.writeHead(400, { 'content-type': 'application/json' }).end(
            JSON.stringify({
              error: 'invalid_grant',
              error_description: 'grant request is invalid',
            }),
          )
          return
        case 'ok':
          response.writeHead(200, { 'content-type': 'application/json' }).end(
            JSON.stringify({
              access_token: 'exchanged-token',
              issued_token_type: 'urn:ietf:params:oauth:token-type:access_token',
              token_type: 'Bearer',
              expires_in: 300,
            }),
          )
      }
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  )
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received }
}

function exchanger(url: string, retries: string[], extra: { timeoutMs?: number } = {}) {
  return createTokenExchangeClient({
    tokenEndpoint: `${url}/token`,
    clientId: 'app-a',
    clientSecret: 'secret',
    onRetry: (reason) => retries.push(reason),
    ...extra,
  })
}

const params = { subjectToken: 'subject', audience: 'app-b' }

test('exchange when the first connection is dropped before an answer then it is sent once more and succeeds', async (t) => {
  const server = await scriptedServer(t, ['drop', 'ok'])
  const retries: string[] = []
  const result = await exchanger(server.url, retries).exchange(params)
  assert.equal(result.accessToken, 'exchanged-token')
  assert.equal(server.received.length, 2, 'the server saw both attempts')
  assert.equal(server.received[0]!.body, server.received[1]!.body, 'the same request twice')
  assert.equal(retries.length, 1)
  assert.match(retries[0]!, /^(ECONNRESET|UND_ERR_SOCKET|UND_ERR_CLOSED|EPIPE)$/)
})

test('exchange when the load balancer answers 502 with its own page then it is sent once more', async (t) => {
  const server = await scriptedServer(t, ['gateway', 'ok'])
  const retries: string[] = []
  const result = await exchanger(server.url, retries).exchange(params)
  assert.equal(result.accessToken, 'exchanged-token')
  assert.equal(server.received.length, 2)
  assert.deepEqual(retries, ['gateway 502'])
})

test('exchange when both attempts are dropped then it fails with network_error after exactly two requests', async (t) => {
  const server = await scriptedServer(t, ['drop'])
  const retries: string[] = []
  await assert.rejects(
    exchanger(server.url, retries).exchange(params),
    (error: unknown) => error instanceof TokenExchangeError && error.error === 'network_error',
  )
  assert.equal(server.received.length, 2, 'retried exactly once, never a third time')
  assert.equal(retries.length, 1)
})

test('exchange when nothing listens then the refused connection is retried once and fails with network_error', async () => {
  const url = `http://127.0.0.1:${await freePort()}`
  const retries: string[] = []
  await assert.rejects(
    exchanger(url, retries).exchange(params),
    (error: unknown) => error instanceof TokenExchangeError && error.error === 'network_error',
  )
  assert.deepEqual(retries, ['ECONNREFUSED'])
})

test('exchange when the token endpoint answers an OAuth error then it is not sent again', async (t) => {
  const server = await scriptedServer(t, ['oauth-error', 'ok'])
  const retries: string[] = []
  await assert.rejects(
    exchanger(server.url, retries).exchange(params),
    (error: unknown) =>
      error instanceof TokenExchangeError &&
      error.error === 'invalid_grant' &&
      error.statusCode === 400,
  )
  assert.equal(server.received.length, 1, 'no second request, no token minted')
  assert.deepEqual(retries, [])
})

test('exchange when the service itself answers 503 in JSON then it is not sent again', async (t) => {
  const server = await scriptedServer(t, ['app-unavailable', 'ok'])
  const retries: string[] = []
  await assert.rejects(
    exchanger(server.url, retries).exchange(params),
    (error: unknown) =>
      error instanceof TokenExchangeError &&
      error.error === 'temporarily_unavailable' &&
      error.statusCode === 503,
  )
  assert.equal(server.received.length, 1)
  assert.deepEqual(retries, [])
})

test('exchange when the answer times out then it is not sent again', async (t) => {
  const server = await scriptedServer(t, ['hang', 'ok'])
  const retries: string[] = []
  await assert.rejects(
    exchanger(server.url, retries, { timeoutMs: 300 }).exchange(params),
    (error: unknown) => error instanceof TokenExchangeError && error.error === 'network_error',
  )
  assert.equal(server.received.length, 1, 'a request that may still run is not repeated')
  assert.deepEqual(retries, [])
})

test('exchange when retry is off then a dropped connection fails at once', async (t) => {
  const server = await scriptedServer(t, ['drop', 'ok'])
  const retries: string[] = []
  const client = createTokenExchangeClient({
    tokenEndpoint: `${server.url}/token`,
    clientId: 'app-a',
    clientSecret: 'secret',
    retry: false,
    onRetry: (reason) => retries.push(reason),
  })
  await assert.rejects(client.exchange(params), TokenExchangeError)
  assert.equal(server.received.length, 1)
  assert.deepEqual(retries, [])
})

test('retrying fetch when a POST with an Idempotency-Key is dropped then it is sent once more with the same key', async (t) => {
  const server = await scriptedServer(t, ['drop', 'ok'])
  const retries: string[] = []
  const fetchOnce = createRetryingFetch({ onRetry: (reason) => retries.push(reason) })
  const response = await fetchOnce(`${server.url}/api/todos`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'idempotency-key': 'key-0001-abcdef' },
    body: JSON.stringify({ title: 'milk' }),
  })
  assert.equal(response.status, 200)
  assert.equal(server.received.length, 2)
  assert.deepEqual(
    server.received.map((r) => [r.method, r.idempotencyKey, r.body]),
    [
      ['POST', 'key-0001-abcdef', '{"title":"milk"}'],
      ['POST', 'key-0001-abcdef', '{"title":"milk"}'],
    ],
  )
  assert.equal(retries.length, 1)
})

test('retrying fetch when a POST without an Idempotency-Key is dropped then it is not sent again', async (t) => {
  const server = await scriptedServer(t, ['drop', 'ok'])
  const retries: string[] = []
  const fetchOnce = createRetryingFetch({ onRetry: (reason) => retries.push(reason) })
  await assert.rejects(
    fetchOnce(`${server.url}/api/todos`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ title: 'milk' }),
    }),
    TypeError,
  )
  assert.equal(server.received.length, 1, 'the write that may have happened is not repeated')
  assert.deepEqual(retries, [])
})

test('retrying fetch when a GET meets the load balancer page then it is sent once more, a JSON 503 is not', async (t) => {
  const gateway = await scriptedServer(t, ['gateway', 'ok'])
  const retries: string[] = []
  const fetchOnce = createRetryingFetch({ onRetry: (reason) => retries.push(reason) })
  assert.equal((await fetchOnce(`${gateway.url}/api/todos`)).status, 200)
  assert.equal(gateway.received.length, 2)
  const app = await scriptedServer(t, ['app-unavailable', 'ok'])
  assert.equal((await fetchOnce(`${app.url}/api/todos`)).status, 503)
  assert.equal(app.received.length, 1)
  assert.deepEqual(retries, ['gateway 502'])
})
