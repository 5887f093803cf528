/* The lesson's code (the 12306 ticket grab of the multiprocessing lesson) as each cure changes it: one program per
 * cure, its changed lines marked "+" here and highlighted on the page. Shown beside a card's cure. */

import { text } from "./dom.js";
import { t } from "./i18n.js";

const SEARCH = `
def search(i):
    with open('db.json', 'rt', encoding='utf-8') as f:
        dic = json.load(f)
    time.sleep(1)
    print('路人%s查看到剩余票数:%s' % (i, dic['count']))
`;

const GET = `
def get(i):
    with open('db.json', 'rt', encoding='utf-8') as f:
        dic = json.load(f)
    if dic['count'] > 0:
        dic['count'] -= 1
        time.sleep(random.randint(1, 3))
        with open('db.json', 'wt', encoding='utf-8') as f:
            json.dump(dic, f)
        print('路人%s抢票成功' % i)
    else:
        print('路人%s抢票失败' % i)
`;

const MAIN = (guard, args) => `
if __name__ == '__main__':
${guard}    for i in range(1, 11):
        p = Process(target=task, args=(i${args}))
        p.start()
`;

const PROGRAMS = {
  "read-write/none": `from multiprocessing import Process, Lock
import json
import time, random
${SEARCH}${GET}
def task(i, mutex):
    search(i)
    # mutex.acquire()
    get(i)
    # mutex.release()
${MAIN("    mutex = Lock()\n", ", mutex")}`,

  "read-write/process": `from multiprocessing import Process, Lock
import json
import time, random
${SEARCH}${GET}
def task(i, mutex):
    search(i)
+    mutex.acquire()
    get(i)
+    mutex.release()
${MAIN("    mutex = Lock()\n", ", mutex")}`,

  "read-write/file": `from multiprocessing import Process
+import fcntl
import json
import time, random
${SEARCH}${GET}
def task(i):
    search(i)
+    with open('db.json.lock', 'w') as lock:
+        fcntl.flock(lock, fcntl.LOCK_EX)
+        get(i)
${MAIN("", "")}`,

  "read-write/semaphore": `+from multiprocessing import Process, Semaphore
import json
import time, random
${SEARCH}${GET}
+def task(i, sem):
    search(i)
+    sem.acquire()
    get(i)
+    sem.release()
${MAIN("+    sem = Semaphore(3)\n", ", sem")}`,

  optimistic: `from multiprocessing import Process
import json, os
import time, random
${SEARCH}
def get(i):
+    while True:
        with open('db.json', 'rt', encoding='utf-8') as f:
            dic = json.load(f)
        if dic['count'] <= 0:
            print('路人%s抢票失败' % i)
            return
+        new = {'count': dic['count'] - 1, 'version': dic['version'] + 1}
        time.sleep(random.randint(1, 3))
+        with open('db.json.%s' % i, 'wt', encoding='utf-8') as f:
+            json.dump(new, f)
+        try:
+            os.link('db.json.%s' % i, 'db.json.v%s' % new['version'])
+        except FileExistsError:
+            os.remove('db.json.%s' % i)
+            continue
+        os.replace('db.json.%s' % i, 'db.json')
        print('路人%s抢票成功' % i)
        return

def task(i):
    search(i)
    get(i)
${MAIN("", "")}`,

  seller: `+from multiprocessing import Process, Queue
import json
import time, random
${SEARCH}
+def seller(requests, answers):
+    with open('db.json', 'rt', encoding='utf-8') as f:
+        dic = json.load(f)
+    for _ in answers:
+        i = requests.get()
+        sold = dic['count'] > 0
+        if sold:
+            dic['count'] -= 1
+            with open('db.json', 'wt', encoding='utf-8') as f:
+                json.dump(dic, f)
+        answers[i].put(sold)

+def task(i, requests, answer):
    search(i)
+    requests.put(i)
+    if answer.get():
        print('路人%s抢票成功' % i)
    else:
        print('路人%s抢票失败' % i)

if __name__ == '__main__':
+    requests = Queue()
+    answers = {i: Queue() for i in range(1, 11)}
+    Process(target=seller, args=(requests, answers)).start()
    for i in range(1, 11):
+        p = Process(target=task, args=(i, requests, answers[i]))
        p.start()
`,
};

/** The program for a cure (strategy, lock) as lines: [{code, changed}]; null for a cure the lesson has no code for. */
export function lessonCode(strategy, lock) {
  const program = PROGRAMS[strategy === "read-write" ? `read-write/${lock}` : strategy];
  if (!program) return null;
  return program
    .replace(/\n+$/, "")
    .split("\n")
    .map((line) => (line.startsWith("+") ? { code: line.slice(1), changed: true } : { code: line, changed: false }));
}

/** Fill `box` (a <details>) with the cure's program, its changed lines highlighted; hide it when there is none. */
export function showLessonCode(box, config) {
  const lines = lessonCode(config.strategy, config.lock);
  box.hidden = !lines;
  if (!lines) return;
  const changed = lines.filter((line) => line.changed).length;
  box.querySelector("summary").textContent = t("code.summary");
  box.querySelector(".code-note").textContent = changed
    ? t("code.note", { n: changed, permits: config.permits ?? 3 })
    : t("code.note.none");
  const pre = box.querySelector("pre");
  pre.replaceChildren(
    ...lines.map((line, i) => {
      const row = text("span", line.code || " ", line.changed ? "line changed" : "line");
      row.dataset.line = String(i + 1);
      return row;
    }),
  );
}
