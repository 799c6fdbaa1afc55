/* A single-page front end of django-useraccounts that knows the account only through
   the JSON API (useraccounts.api), as a "browser" client: the session cookie, sent with
   every fetch (credentials: "same-origin"), and Django's CSRF token, fetched from the
   API's csrf endpoint and sent back in the X-CSRFToken header of every POST.

   Hash routes: #/signup, #/confirm/{token}, #/login, #/account, #/password,
   #/reset, #/reset/{uidb64}/{token}, #/resend. Plain JavaScript, no build step, no
   external assets. Every error the API answers ({"errors": [{code, field, message}]})
   is shown beside its field, or above the form when it is about the request as a whole. */

"use strict";

(function () {
  const body = document.body;
  const API = body.dataset.api;
  const HAS_USERNAME = body.dataset.username === "yes";
  const main = document.getElementById("main");

  const state = {
    csrf: null, // Django's CSRF token, as the csrf endpoint (or a login) gave it
    session: null, // the API's session answer: {user, email_addresses, client}, or null
    flash: null, // a message for the next view: {text, kind}
    signedUp: null, // the address of a signup waiting for its confirmation
    links: {}, // tokens read from the address bar, then taken out of it
    loginPrefill: "",
  };

  // --- the API -------------------------------------------------------------------------

  const NETWORK_ERROR = "We could not reach the server. Check your connection and try again.";

  async function fetchCsrf() {
    const answer = await api("GET", "csrf");
    if (answer.ok) state.csrf = answer.data.csrf_token;
    return answer.ok;
  }

  /* One request: {status, ok, data}. data is the JSON body, or for an answer without
     one (204) null; an answer that is not the API's JSON gets the error shape. */
  async function api(method, path, payload, retried) {
    const headers = { Accept: "application/json" };
    const init = { method, headers, credentials: "same-origin", cache: "no-store" };
    if (method !== "GET") headers["X-CSRFToken"] = state.csrf || "";
    if (payload !== undefined) {
      headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(payload);
    }
    let response;
    try {
      response = await fetch(API + path, init);
    } catch (error) {
      return { status: 0, ok: false, data: oneError("network_error", NETWORK_ERROR) };
    }
    let data = null;
    if (response.status !== 204) {
      try {
        data = await response.json();
      } catch (error) {
        data = null;
      }
    }
    if (data && typeof data.csrf_token === "string") state.csrf = data.csrf_token; // rotated
    const errors = (data && Array.isArray(data.errors) && data.errors) || null;
    if (!retried && response.status === 403 && errors && errors[0].code === "csrf_failed") {
      // The token changed under us (another tab logged in or out): fetch it, try once more.
      if (await fetchCsrf()) return api(method, path, payload, true);
    }
    if (!response.ok && !errors) {
      const message = `Something went wrong (HTTP ${response.status}). Please try again in a moment.`;
      data = oneError(`http_${response.status}`, message);
    }
    return { status: response.status, ok: response.ok, data };
  }

  function oneError(code, message) {
    return { errors: [{ code, field: null, message }] };
  }

  async function loadSession() {
    const answer = await api("GET", "session");
    if (answer.ok) state.session = answer.data;
    else if (answer.status === 401) state.session = null;
    return answer;
  }

  // --- building the page -----------------------------------------------------------

  /* el("p", {class: "x", text: "..."}, child, ...): an element; attributes starting
     with "on" are listeners, "text" is its text, false/null attributes are left out. */
  function el(tag, attributes, ...children) {
    const node = document.createElement(tag);
    for (const [name, value] of Object.entries(attributes || {})) {
      if (value === false || value === null || value === undefined) continue;
      if (name === "text") node.textContent = value;
      else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
      else node.setAttribute(name, value === true ? "" : value);
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      node.append(typeof child === "string" ? document.createTextNode(child) : child);
    }
    return node;
  }

  function link(href, text, attributes) {
    return el("a", { href, text, ...(attributes || {}) });
  }

  function go(route) {
    if (location.hash === route) render();
    else location.hash = route;
  }

  function flash(text, kind) {
    state.flash = { text, kind: kind || "ok" };
  }

  /* Replace the content of <main> with a view: its title becomes the document's, and
     the heading takes the focus so a screen reader starts reading there. */
  function show(title, ...content) {
    document.title = `${title} · Accounts demo`;
    const heading = el("h1", { tabindex: "-1", text: title });
    const notes = [];
    if (state.flash) {
      const kind = state.flash.kind;
      notes.push(el("p", { class: `notice ${kind}`, role: "status", text: state.flash.text }));
      state.flash = null;
    }
    main.replaceChildren(heading, ...notes, ...content);
    main.removeAttribute("aria-busy");
    updateHeader();
    heading.focus();
  }

  function updateHeader() {
    const nav = document.getElementById("nav");
    const who = document.getElementById("who");
    const route = location.hash || "#/";
    const item = (href, text) =>
      el("li", {}, link(href, text, { "aria-current": route === href ? "page" : false }));
    if (state.session) {
      const user = state.session.user;
      who.replaceChildren("Logged in as ", el("strong", { text: user.username || user.email }));
      who.hidden = false;
      nav.replaceChildren(
        item("#/account", "Account"),
        item("#/password", "Change password"),
        el("li", {}, el("button", { type: "button", class: "small", onclick: logOut }, "Log out")),
      );
    } else {
      who.hidden = true;
      who.replaceChildren();
      nav.replaceChildren(
        item("#/login", "Log in"),
        el("li", {}, link("#/signup", "Sign up", {
          class: "button small", "aria-current": route === "#/signup" ? "page" : false,
        })),
      );
    }
  }

  // --- forms -----------------------------------------------------------------------

  let formCount = 0;

  /* A form of labelled fields; onSubmit(values, form) returns the API's answer, or
     nothing. Errors go beside their field, or above the form. */
  function form(spec) {
    const prefix = `f${++formCount}`;
    const node = el("form", { novalidate: true, "aria-label": spec.label || false });
    node.alert = el("div", { class: "alert", role: "alert", tabindex: "-1", hidden: true });
    node.append(node.alert);
    node.inputs = {};
    for (const field of spec.fields) node.append(fieldNode(node, prefix, field));
    const button = el("button", { type: "submit", class: spec.danger ? "danger" : false }, spec.submit);
    node.append(el("div", { class: "actions" }, button, spec.extra || null));
    node.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (node.getAttribute("aria-busy") === "true") return;
      const values = {};
      for (const [name, input] of Object.entries(node.inputs)) {
        values[name] = input.type === "checkbox" ? input.checked : input.value;
      }
      clearErrors(node);
      node.setAttribute("aria-busy", "true");
      button.disabled = true;
      try {
        await spec.onSubmit(values, node);
      } finally {
        node.removeAttribute("aria-busy");
        button.disabled = false;
      }
    });
    return node;
  }

  function fieldNode(formNode, prefix, field) {
    const id = `${prefix}-${field.name}`;
    const wrapper = el("div", { class: `field${field.type === "checkbox" ? " check" : ""}`, id: `field-${field.name}` });
    const input = el("input", {
      id,
      name: field.name,
      type: field.type || "text",
      autocomplete: field.autocomplete || false,
      required: field.required !== false && field.type !== "checkbox",
      value: field.value || false,
      inputmode: field.inputmode || false,
      spellcheck: field.type === "email" || field.name === "username" ? "false" : false,
      autocapitalize: field.type === "email" || field.name === "username" ? "none" : false,
    });
    const label = el("label", { for: id, text: field.label });
    const help = field.help ? el("p", { class: "help", id: `${id}-help`, text: field.help }) : null;
    if (help) input.setAttribute("aria-describedby", help.id);
    formNode.inputs[field.name] = input;
    if (field.type === "checkbox") wrapper.append(input, label);
    else wrapper.append(label, help || "", input);
    return wrapper;
  }

  function clearErrors(formNode) {
    formNode.alert.hidden = true;
    formNode.alert.replaceChildren();
    for (const input of Object.values(formNode.inputs)) {
      input.removeAttribute("aria-invalid");
      const error = document.getElementById(`${input.id}-error`);
      if (error) error.remove();
      const help = document.getElementById(`${input.id}-help`);
      if (help) input.setAttribute("aria-describedby", help.id);
      else input.removeAttribute("aria-describedby");
    }
  }

  /* The API's errors in the form: each under the field it names (its "field"), the
     others, and those about the request as a whole, above the form. */
  function showErrors(formNode, errors, extra) {
    clearErrors(formNode);
    const general = [];
    const byField = new Map();
    for (const error of errors) {
      const input = error.field && formNode.inputs[error.field];
      if (input) {
        if (!byField.has(input)) byField.set(input, []);
        byField.get(input).push(error.message);
      } else {
        general.push(error.message);
      }
    }
    for (const [input, messages] of byField) {
      const error = el("div", { class: "error", id: `${input.id}-error`, role: "alert" },
        messages.map((message) => el("p", { text: message })));
      input.after(error);
      input.setAttribute("aria-invalid", "true");
      const described = [input.getAttribute("aria-describedby"), error.id].filter(Boolean);
      input.setAttribute("aria-describedby", described.join(" "));
    }
    if (general.length || extra) {
      formNode.alert.append(...general.map((message) => el("p", { text: message })), extra || "");
      formNode.alert.hidden = false;
    }
    const first = Object.values(formNode.inputs).find((input) => byField.has(input));
    if (first) first.focus();
    else if (!formNode.alert.hidden) formNode.alert.focus();
  }

  const PASSWORD_RULES =
    "At least 8 characters, not all digits, not a common password and not like your username or email address.";

  // --- the views -------------------------------------------------------------------

  function needLogin() {
    if (state.session) return false;
    flash("Log in first.", "info");
    go("#/login");
    return true;
  }

  function viewHome() {
    go(state.session ? "#/account" : "#/login");
  }

  function viewSignup() {
    if (state.session) return go("#/account");
    const fields = [];
    if (HAS_USERNAME) fields.push({ name: "username", label: "Username", autocomplete: "username" });
    fields.push(
      { name: "email", label: "Email address", type: "email", autocomplete: "email" },
      { name: "password1", label: "Password", type: "password", autocomplete: "new-password", help: PASSWORD_RULES },
      { name: "password2", label: "Password (again)", type: "password", autocomplete: "new-password" },
    );
    show(
      "Sign up",
      el("p", {}, "Already have an account? ", link("#/login", "Log in"), "."),
      form({
        label: "Sign up",
        fields,
        submit: "Sign up",
        async onSubmit(values, node) {
          const answer = await api("POST", "signup", values);
          if (!answer.ok) return showErrors(node, answer.data.errors);
          if (answer.data.logged_in) {
            state.session = answer.data;
            flash("Welcome! Your account is ready.");
            return go("#/account");
          }
          state.signedUp = answer.data.email;
          go("#/signed-up");
        },
      }),
    );
  }

  function viewSignedUp() {
    const email = state.signedUp;
    show(
      "Check your inbox",
      el("p", {}, email ? ["We sent a link to ", el("strong", { text: email }), ". "] : "We sent you a link. ",
        "Open it to confirm your address, then log in."),
      el("p", {}, "No email after a few minutes? ", link("#/resend", "Get a new confirmation link"), "."),
    );
  }

  /* #/confirm/{token}: the emailed link. The token leaves the address bar at once
     (kept in memory); the API says what it confirms and whether the password is needed. */
  async function viewConfirm(token) {
    if (token) {
      state.links.confirm = token;
      history.replaceState(null, "", "#/confirm");
    }
    token = state.links.confirm;
    if (!token) return viewLinkGone("Confirm your email address", "#/resend", "Get a new confirmation link");
    const check = await api("POST", "email/confirm/check", { token });
    if (!check.ok) {
      return show(
        "This link does not work",
        ...check.data.errors.map((error) => el("p", { class: "alert", role: "alert", text: error.message })),
        el("p", { class: "row" },
          link("#/resend", "Get a new confirmation link", { class: "button" }),
          link("#/login", "Log in", { class: "button secondary" })),
      );
    }
    const address = check.data.email_address.email;
    const account = check.data.account_username;
    const fields = [];
    if (check.data.password_required) {
      fields.push({
        name: "password", label: "Password of this account", type: "password",
        autocomplete: "current-password",
        help: "This link was opened in another browser than the one that asked for it: prove the account is yours.",
      });
    }
    const confirmForm = form({
      label: "Confirm your email address",
      fields,
      submit: "Confirm",
      async onSubmit(values, node) {
        const answer = await api("POST", "email/confirm", { token, ...values });
        if (!answer.ok) {
          const errors = answer.data.errors;
          if (errors.some((e) => e.field === "password") && !node.inputs.password) {
            // The API wants the password after all: ask for it, then show why.
            node.querySelector(".actions").before(fieldNode(node, "confirm", {
              name: "password", label: "Password of this account", type: "password",
              autocomplete: "current-password",
            }));
          }
          return showErrors(node, errors);
        }
        delete state.links.confirm;
        flash(`${answer.data.email_address.email} is confirmed.`);
        if (state.session) {
          await loadSession();
          return go("#/account");
        }
        state.loginPrefill = answer.data.email_address.email;
        go("#/login");
      },
    });
    show(
      "Confirm your email address",
      el("p", {}, "Confirm that ", el("strong", { text: address }), " is the email address of the account",
        account ? [" ", el("strong", { text: account })] : "", "."),
      confirmForm,
    );
  }

  function viewLinkGone(title, href, text) {
    show(
      title,
      el("p", {}, "Open the link from your email again: this page keeps it only until it is reloaded."),
      el("p", {}, link(href, text), "."),
    );
  }

  function viewLogin() {
    if (state.session) return go("#/account");
    const prefill = state.loginPrefill;
    state.loginPrefill = "";
    const label = HAS_USERNAME ? "Username or email address" : "Email address";
    show(
      "Log in",
      form({
        label: "Log in",
        fields: [
          { name: "login", label, autocomplete: "username", value: prefill },
          { name: "password", label: "Password", type: "password", autocomplete: "current-password" },
          { name: "remember", label: "Keep me logged in", type: "checkbox" },
        ],
        submit: "Log in",
        async onSubmit(values, node) {
          const answer = await api("POST", "login", values);
          if (!answer.ok) {
            const unconfirmed = answer.data.errors.some((e) => e.code === "email_not_verified");
            const extra = unconfirmed
              ? el("p", {}, link("#/resend", "Get a new confirmation link"))
              : null;
            return showErrors(node, answer.data.errors, extra);
          }
          state.session = answer.data;
          flash("You are logged in.");
          go("#/account");
        },
      }),
      el("ul", { class: "onward", "aria-label": "Other ways in" },
        el("li", {}, link("#/reset", "Forgot your password?")),
        el("li", {}, link("#/signup", "Create an account")),
        el("li", {}, link("#/resend", "Get a new confirmation link")),
      ),
    );
  }

  async function viewAccount() {
    const answer = await loadSession();
    if (!answer.ok && answer.status !== 401) {
      return show("Your account", ...answer.data.errors.map((e) => el("p", { class: "alert", role: "alert", text: e.message })));
    }
    if (needLogin()) return;
    const user = state.session.user;
    const details = el("dl", { class: "details" });
    if (user.username) details.append(el("dt", { text: "Username" }), el("dd", { text: user.username }));
    details.append(el("dt", { text: "Email address" }), el("dd", { text: user.email }));
    const list = el("ul", { class: "addresses", "aria-label": "The addresses of your account" });
    const fillList = (addresses) => {
      list.replaceChildren(...addresses.map((address) =>
        el("li", {},
          el("span", { class: "address", text: address.email }),
          el("span", { class: "tags" },
            address.primary ? el("span", { class: "tag", text: "Primary" }) : null,
            address.verified
              ? el("span", { class: "tag ok", text: "Confirmed" })
              : el("span", { class: "tag warn", text: "Not confirmed yet" })),
        )));
    };
    fillList(state.session.email_addresses);
    const added = el("p", { class: "notice ok", role: "status", hidden: true });
    const addForm = form({
      label: "Add an email address",
      fields: [{ name: "email", label: "New email address", type: "email", autocomplete: "email" }],
      submit: "Add",
      async onSubmit(values, node) {
        added.hidden = true;
        const result = await api("POST", "email", values);
        if (!result.ok) {
          if (result.status === 401) return sessionEnded();
          return showErrors(node, result.data.errors);
        }
        state.session.email_addresses = result.data.email_addresses;
        fillList(result.data.email_addresses);
        added.textContent = `We sent a confirmation link to ${values.email.trim()}.`;
        added.hidden = false;
        node.inputs.email.value = "";
      },
    });
    show(
      "Your account",
      details,
      el("section", { "aria-labelledby": "addresses-title" },
        el("h2", { id: "addresses-title", text: "Email addresses" }),
        list,
        added,
        addForm),
      el("section", { "aria-labelledby": "security-title" },
        el("h2", { id: "security-title", text: "Security" }),
        el("p", { class: "row" },
          link("#/password", "Change your password", { class: "button secondary" }),
          el("button", { type: "button", class: "secondary", onclick: logOut }, "Log out"))),
    );
  }

  function sessionEnded() {
    state.session = null;
    flash("Your session ended. Please log in again.", "info");
    go("#/login");
  }

  function viewPassword() {
    if (needLogin()) return;
    show(
      "Change your password",
      form({
        label: "Change your password",
        fields: [
          { name: "old_password", label: "Current password", type: "password", autocomplete: "current-password" },
          { name: "new_password1", label: "New password", type: "password", autocomplete: "new-password", help: PASSWORD_RULES },
          { name: "new_password2", label: "New password (again)", type: "password", autocomplete: "new-password" },
        ],
        submit: "Save",
        extra: link("#/account", "Cancel"),
        async onSubmit(values, node) {
          const answer = await api("POST", "password/change", values);
          if (!answer.ok) {
            if (answer.status === 401) return sessionEnded();
            return showErrors(node, answer.data.errors);
          }
          state.session = answer.data;
          flash("Your password is changed. You are still logged in here; every other session ended.");
          go("#/account");
        },
      }),
    );
  }

  async function logOut(event) {
    const button = event && event.currentTarget;
    if (button) button.disabled = true;
    const answer = await api("POST", "logout");
    if (button) button.disabled = false;
    if (!answer.ok) {
      const message = answer.data.errors.map((e) => e.message).join(" ");
      main.querySelectorAll(".logout-error").forEach((node) => node.remove());
      main.querySelector("h1").after(el("p", { class: "alert logout-error", role: "alert", text: message }));
      return;
    }
    state.session = null;
    flash("You are logged out.");
    go("#/login");
  }

  function viewResetRequest() {
    const sent = el("div", { class: "notice ok", role: "status", hidden: true });
    show(
      "Reset your password",
      el("p", {}, "Type the email address of your account: we will send it a link to choose a new password."),
      sent,
      form({
        label: "Reset your password",
        fields: [{ name: "email", label: "Email address", type: "email", autocomplete: "email" }],
        submit: "Send me a reset link",
        async onSubmit(values, node) {
          sent.hidden = true;
          const answer = await api("POST", "password/reset", values);
          if (!answer.ok) return showErrors(node, answer.data.errors);
          sent.replaceChildren(el("p", { text: answer.data.message }));
          sent.hidden = false;
        },
      }),
      el("p", {}, link("#/login", "Back to log in")),
    );
  }

  function viewResend() {
    const sent = el("div", { class: "notice ok", role: "status", hidden: true });
    show(
      "Get a new confirmation link",
      sent,
      form({
        label: "Get a new confirmation link",
        fields: [{ name: "email", label: "Email address", type: "email", autocomplete: "email", value: state.signedUp || "" }],
        submit: "Send a new confirmation link",
        async onSubmit(values, node) {
          sent.hidden = true;
          const answer = await api("POST", "email/resend", values);
          if (!answer.ok) return showErrors(node, answer.data.errors);
          sent.replaceChildren(el("p", { text: answer.data.message }));
          sent.hidden = false;
        },
      }),
      el("p", {}, link("#/login", "Back to log in")),
    );
  }

  /* #/reset/{uidb64}/{token}: the emailed reset link, checked before asking for the
     new password; the token leaves the address bar as the confirmation's does. */
  async function viewReset(uidb64, token) {
    if (uidb64 && token) {
      state.links.reset = { uidb64, token };
      history.replaceState(null, "", "#/reset/new");
    }
    const parts = state.links.reset;
    if (!parts) return viewLinkGone("Choose a new password", "#/reset", "Get a new reset link");
    const check = await api("POST", "password/reset/check", parts);
    if (!check.ok) {
      return show(
        "This link does not work",
        ...check.data.errors.map((error) => el("p", { class: "alert", role: "alert", text: error.message })),
        el("p", {}, link("#/reset", "Get a new reset link", { class: "button" })),
      );
    }
    show(
      "Choose a new password",
      form({
        label: "Choose a new password",
        fields: [
          { name: "new_password1", label: "New password", type: "password", autocomplete: "new-password", help: PASSWORD_RULES },
          { name: "new_password2", label: "New password (again)", type: "password", autocomplete: "new-password" },
        ],
        submit: "Save my new password",
        async onSubmit(values, node) {
          const answer = await api("POST", "password/reset/confirm", { ...parts, ...values });
          if (!answer.ok) return showErrors(node, answer.data.errors);
          delete state.links.reset;
          if (answer.data.logged_in) {
            state.session = answer.data;
            flash("Your password is changed.");
            return go("#/account");
          }
          state.session = null;
          flash("Your password is changed. Log in with it.");
          go("#/login");
        },
      }),
    );
  }

  function viewNotFound() {
    show("Page not found", el("p", {}, "There is no such page here. ", link("#/", "Go to the start"), "."));
  }

  // --- routing ---------------------------------------------------------------------

  const ROUTES = [
    [/^#?\/?$/, viewHome],
    [/^#\/signup$/, viewSignup],
    [/^#\/signed-up$/, viewSignedUp],
    [/^#\/confirm(?:\/([^/]+))?$/, viewConfirm],
    [/^#\/login$/, viewLogin],
    [/^#\/account$/, viewAccount],
    [/^#\/password$/, viewPassword],
    [/^#\/resend$/, viewResend],
    [/^#\/reset$/, viewResetRequest],
    [/^#\/reset\/new$/, () => viewReset()],
    [/^#\/reset\/([^/]+)\/([^/]+)$/, viewReset],
  ];

  let rendering = Promise.resolve();

  function render() {
    const hash = location.hash;
    // One view at a time: a view still waiting for the API finishes first.
    rendering = rendering.then(async () => {
      for (const [pattern, view] of ROUTES) {
        const match = hash.match(pattern);
        if (match) return view(...match.slice(1).map((part) => part && decodeURIComponent(part)));
      }
      return viewNotFound();
    }).catch((error) => {
      console.error(error);
      show("Something went wrong", el("p", { class: "alert", role: "alert", text: "Please reload the page." }));
    });
    return rendering;
  }

  document.getElementById("skip").addEventListener("click", (event) => {
    event.preventDefault(); // "#main" is no route
    main.focus();
  });
  window.addEventListener("hashchange", render);

  async function start() {
    await fetchCsrf();
    await loadSession();
    await render();
  }
  start();
})();
