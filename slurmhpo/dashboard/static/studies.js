// The studies page: one row per study from /api/status (the `slurmhpo status --json`
// document), redrawn every poll interval.
"use strict";

function studyRow(s) {
  const budget = s.budget;
  const lease = s.controller;
  const controller = lease ? `${shpo.esc(lease.owner)}${lease.live ? "" : " (EXPIRED)"}` : "-";
  const href = `/studies/${encodeURIComponent(s.name)}`;
  return `<tr data-study="${shpo.esc(s.name)}">
    <td><a href="${href}">${shpo.esc(s.name)}</a></td>
    <td><span class="state state-${shpo.esc(s.state)}">${shpo.esc(s.state)}</span></td>
    <td>${shpo.bar(budget.trials.used, budget.trials.limit)}</td>
    <td>${shpo.bar(budget.gpu_hours.used, budget.gpu_hours.limit)}</td>
    <td class="num">${shpo.value(s.best_value)}</td>
    <td class="num">${s.jobs.running}</td>
    <td class="num">${s.jobs.pending}</td>
    <td>${controller}</td>
    <td>${shpo.time(s.last_activity)}</td></tr>`;
}

(async () => {
  const info = await shpo.info();
  shpo.every(info.poll_seconds, async () => {
    const doc = await shpo.get("/api/status");
    document.querySelector("#studies tbody").innerHTML = doc.studies.map(studyRow).join("");
    document.getElementById("empty").hidden = doc.studies.length > 0;
    shpo.stamp();
  });
})();
