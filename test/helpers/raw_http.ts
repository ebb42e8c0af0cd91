/**
 * One HTTP request written exactly as given (its headers, its body in parts with pauses between
 * them, no agent), and the answer as received: what the lean token paths' parity tests send to two
 * servers and compare (test/sts/token_fast_path.test.ts, test/idp/token_exchange_fast_path.test.ts).
 */
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http'

export interface RawAnswer {
  status: number
  headers: IncomingHttpHeaders
  text: string
}

export interface RawRequest {
  method?: string
  /** Default `/token`. */
  path?: string
  headers?: Record<string, string | number>
  /** Body parts, written one after another with `pauseMs` between them. */
  parts?: readonly string[]
  pauseMs?: number
}

export function sendRaw(url: string, options: RawRequest): Promise<RawAnswer> {
  const target = new URL(options.path ?? '/token', url)
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      target,
      { method: options.method ?? 'POST', headers: options.headers ?? {}, agent: false },
      (res) => {
        const chunks: Buffer[] = []
        res.on('data', (chunk: Buffer) => chunks.push(chunk))
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString(),
          }),
        )
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    const parts = options.parts ?? []
    void (async () => {
      for (const [index, part] of parts.entries()) {
        if (index > 0 && options.pauseMs) await new Promise((r) => setTimeout(r, options.pauseMs))
        req.write(part)
      }
      req.end()
    })()
  })
}
