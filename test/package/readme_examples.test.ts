/**
 * The README shows the two examples in full; they must be the files the pack test runs, so what a
 * reader copies is what was tested.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'

const readme = readFileSync('README.md', 'utf8')

for (const file of ['examples/resource_server.js', 'examples/client.js']) {
  test(`README shows ${file} as it is`, () => {
    const marker = `<!-- ${file} -->\n\`\`\`js\n`
    const start = readme.indexOf(marker)
    assert.notEqual(start, -1, `README has a code block after ${marker.trim()}`)
    const code = readme.slice(start + marker.length, readme.indexOf('```\n', start + marker.length))
    assert.equal(code, readFileSync(file, 'utf8'))
  })
}
