import assert from 'node:assert/strict'
import { test } from 'node:test'
import { escapeHtml, html, raw } from '../../src/web/html.js'
import { renderPage } from '../../src/web/layout.js'

test('html when interpolating text then every special character is escaped', () => {
  const out = html`<p title="${`"x' <y>`}">${'<script>alert(1)</script> & `'}</p>`.toString()
  assert.equal(
    out,
    '<p title="&quot;x&#39; &lt;y&gt;">&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#96;</p>',
  )
})

test('html when nesting fragments, arrays and raw() then only trusted markup passes through', () => {
  const items = ['<a>', 'b']
  // prettier-ignore
  const out = html`<ul>${items.map((i) => html`<li>${i}</li>`)}</ul>${raw('<hr>')}${null}${undefined}${false}${0}`
  assert.equal(out.toString(), '<ul><li>&lt;a&gt;</li><li>b</li></ul><hr>0')
  assert.equal(html`${['<x>']}`.toString(), '&lt;x&gt;')
})

test('escapeHtml leaves plain text alone', () => {
  assert.equal(escapeHtml('plain text 123'), 'plain text 123')
})

test('renderPage when given untrusted values then they are escaped and the user gets a logout form', () => {
  const page = renderPage({
    appName: 'App <A>',
    title: '<img src=x onerror=alert(1)>',
    user: { name: '<b>Alice</b>', username: 'alice' },
    csrfToken: 'tok"en',
    body: html`<p>ok</p>`,
    nav: [{ href: '/x"y', label: '<Nav>', current: true }],
  })
  assert.ok(page.startsWith('<!doctype html>'))
  assert.ok(!page.includes('<img src=x'))
  assert.ok(!page.includes('<b>Alice</b>'))
  assert.ok(page.includes('&lt;b&gt;Alice&lt;/b&gt;'))
  assert.ok(page.includes('name="_csrf" value="tok&quot;en"'))
  assert.ok(page.includes('action="/auth/logout"'))
  assert.ok(page.includes('aria-current="page"'))
  assert.ok(page.includes('href="/x&quot;y"'))
  assert.ok(!/<script/i.test(page))
  assert.ok(!/ style=/i.test(page), 'no inline styles (CSP)')
})

test('renderPage when a string body is given then it is escaped', () => {
  const page = renderPage({ appName: 'A', title: 't', csrfToken: '', body: '<i>x</i>' })
  assert.ok(page.includes('&lt;i&gt;x&lt;/i&gt;'))
  assert.ok(page.includes('href="/auth/login"'))
})
