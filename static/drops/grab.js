// 立即抢票 through the lean endpoint (/me/drops/<id>/grab/, benefits/drops/fast.py): the press
// sends the claim token the page carries and shows the small JSON answer in place. Without this
// script, or when the token is refused (expired page) or the network fails, the form posts to the
// full claim view as before.
(function () {
  "use strict";
  var form = document.getElementById("claim-form");
  if (!form || !form.dataset.grabUrl || !window.fetch) { return; }
  var button = form.querySelector("button[type=submit]");
  var csrf = form.querySelector("input[name=csrfmiddlewaretoken]");

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text) { node.textContent = text; }
    return node;
  }

  function details(body) {
    if (body.outcome === "won" && body.pay) {
      var pay = el("form", { method: "post", action: body.pay });
      pay.appendChild(el("input", { type: "hidden", name: "csrfmiddlewaretoken", value: csrf ? csrf.value : "" }));
      pay.appendChild(el("button", { "class": "m-btn m-wide", type: "submit", id: "pay" }, "支付 ¥" + body.price));
      return [el("p", {}, "请在 " + body.pay_by + " 前支付，超时票将退回。"), pay];
    }
    var p = el("p");
    if (body.outcome === "won") {
      p.appendChild(el("a", { "class": "m-btn", href: body.ticket }, "查看电子券"));
    } else if (body.ticket || body.tickets) {
      p.appendChild(el("a", { href: body.ticket || body.tickets }, "查看我的电子券 ›"));
    } else if (body.outcome === "sold_out") {
      p.textContent = "票已被抢完。有未支付的票退回时可再试。";
    } else {
      return [];
    }
    return [p];
  }

  function show(body) {
    var old = document.getElementById("claim-result");
    if (old) { old.remove(); }
    var box = el("section", { "class": "m-box m-center d-result", id: "claim-result", "data-outcome": body.outcome });
    var h1 = el("h1", body.outcome === "won" ? { "class": "d-won" } : {}, body.answer + (body.reason ? "：" + body.reason : ""));
    box.appendChild(h1);
    details(body).forEach(function (node) { box.appendChild(node); });
    form.parentNode.insertBefore(box, form.nextSibling);
    var again = body.outcome === "throttled" || body.outcome === "not_open";
    form.hidden = !again;
    button.disabled = !again;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    button.disabled = true;
    fetch(form.dataset.grabUrl, {
      method: "POST",
      credentials: "same-origin",
      headers: { "X-Claim-Token": form.dataset.claimToken }
    }).then(function (response) {
      return response.json().then(function (body) {
        if (body.refresh || response.status >= 500) { form.submit(); } else { show(body); }
      });
    }).catch(function () { form.submit(); });
  });
})();
