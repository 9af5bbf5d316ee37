// Renders TeX to HTML with KaTeX for the book's build (course_utils/authoring/katex.py).
// One JSON request a line on stdin, {"tex": "...", "display": true}; one JSON answer a line on
// stdout, {"html": "..."} or {"error": "..."}. KaTeX comes from the repository's node_modules
// (package.json, installed by `bash scripts/course.sh setup`).
"use strict";
const readline = require("readline");
const katex = require("katex");

const lines = readline.createInterface({ input: process.stdin, terminal: false });
lines.on("line", (line) => {
  let answer;
  try {
    const { tex, display } = JSON.parse(line);
    answer = {
      html: katex.renderToString(tex, {
        displayMode: Boolean(display),
        throwOnError: true,
        output: "htmlAndMathml", // MathML for screen readers, HTML for the eye
        strict: "ignore",
        trust: false,
      }),
    };
  } catch (error) {
    answer = { error: String(error && error.message ? error.message : error) };
  }
  process.stdout.write(JSON.stringify(answer) + "\n");
});
