/* global document, CSS */
// Meterstream console: selection, the confirmation dialog and live submission statuses.
// Plain browser JavaScript, no build step. All text goes in with textContent (never innerHTML).
(function () {
  'use strict';

  var STATUS_LABELS = {
    pending: 'Pending',
    accepted: 'Accepted',
    duplicate: 'Duplicate',
    not_subscribed: 'Not subscribed',
    rejected: 'Rejected',
    expired: 'Expired',
  };

  function csrfToken() {
    var m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.getAttribute('content') : '';
  }

  function el(tag, attrs, text) {
    var e = document.createElement(tag);
    if (attrs)
      Object.keys(attrs).forEach(function (k) {
        e.setAttribute(k, attrs[k]);
      });
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function badge(status) {
    return el('span', { class: 'badge badge-' + status }, STATUS_LABELS[status] || status);
  }

  function postJson(url, body) {
    return fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrfToken() },
      body: JSON.stringify(body),
    }).then(function (res) {
      return res.json().then(
        function (data) {
          return { status: res.status, data: data };
        },
        function () {
          return { status: res.status, data: {} };
        },
      );
    });
  }

  function init() {
    var form = document.getElementById('contracts-form');
    if (!form) return;
    var product = form.getAttribute('data-product');
    var selectAll = document.getElementById('select-all');
    var submitBtn = document.getElementById('submit-metering');
    var dialog = document.getElementById('confirm-dialog');
    var confirmBtn = document.getElementById('confirm-send');
    var cancelBtn = document.getElementById('confirm-cancel');
    var countEl = document.getElementById('selection-count');
    var errorsEl = document.getElementById('form-errors');
    var preview = null;

    function rowBoxes() {
      return Array.prototype.slice.call(form.querySelectorAll('input.row-select:not([disabled])'));
    }

    function refreshSelection() {
      var boxes = rowBoxes();
      var n = boxes.filter(function (b) {
        return b.checked;
      }).length;
      boxes.forEach(function (b) {
        b.closest('tr').classList.toggle('selected', b.checked);
      });
      if (selectAll) {
        selectAll.checked = n > 0 && n === boxes.length;
        selectAll.indeterminate = n > 0 && n < boxes.length;
      }
      if (countEl)
        countEl.textContent =
          n === 0
            ? 'No contracts selected'
            : n === 1
              ? '1 contract selected'
              : n + ' contracts selected';
    }

    if (selectAll) {
      selectAll.addEventListener('change', function () {
        rowBoxes().forEach(function (b) {
          b.checked = selectAll.checked;
        });
        refreshSelection();
      });
    }
    form.addEventListener('change', function (e) {
      if (e.target.classList && e.target.classList.contains('row-select')) refreshSelection();
    });
    // Typing a quantity selects its contract: what you enter is what you mean to send.
    form.addEventListener('input', function (e) {
      if (!e.target.classList || !e.target.classList.contains('qty')) return;
      e.target.removeAttribute('aria-invalid');
      var box = e.target.closest('tr').querySelector('input.row-select');
      if (box && e.target.value.trim() !== '' && !box.checked) {
        box.checked = true;
        refreshSelection();
      }
    });
    form.addEventListener('submit', function (e) {
      e.preventDefault();
    });
    refreshSelection();

    function collectLines() {
      var lines = [];
      rowBoxes().forEach(function (b) {
        if (!b.checked) return;
        var tr = b.closest('tr');
        tr.querySelectorAll('input.qty').forEach(function (input) {
          if (input.value.trim() === '') return;
          lines.push({
            customer: tr.getAttribute('data-customer'),
            dimension: input.getAttribute('data-dimension'),
            quantity: input.value.trim(),
          });
        });
      });
      return lines;
    }

    function showErrors(errors) {
      form.querySelectorAll('[aria-invalid]').forEach(function (i) {
        i.removeAttribute('aria-invalid');
      });
      errorsEl.textContent = '';
      if (!errors || errors.length === 0) {
        errorsEl.hidden = true;
        return;
      }
      errorsEl.appendChild(
        el(
          'strong',
          null,
          errors.length === 1 ? 'One problem to fix:' : errors.length + ' problems to fix:',
        ),
      );
      var ul = el('ul');
      errors.forEach(function (err) {
        var who =
          err.customer && buyers[err.customer]
            ? buyers[err.customer] + ' (' + err.customer + ')'
            : err.customer;
        var where = err.customer ? who + (err.dimension ? ' · ' + err.dimension : '') + ': ' : '';
        ul.appendChild(el('li', null, where + err.message));
        if (err.customer) {
          form.querySelectorAll('tr').forEach(function (tr) {
            if (tr.getAttribute('data-customer') !== err.customer) return;
            var input = err.dimension
              ? tr.querySelector('input.qty[data-dimension="' + CSS.escape(err.dimension) + '"]')
              : null;
            if (input) input.setAttribute('aria-invalid', 'true');
          });
        }
      });
      errorsEl.appendChild(ul);
      errorsEl.hidden = false;
      errorsEl.focus();
    }

    function fillDialog(p) {
      document.getElementById('confirm-hour').textContent =
        p.hour.slice(0, 16).replace('T', ' ') + ' UTC';
      var tbody = document.querySelector('#confirm-table tbody');
      tbody.textContent = '';
      var billed = 0;
      p.lines.forEach(function (l) {
        var tr = el('tr');
        tr.appendChild(el('td', null, l.buyerName || '—'));
        tr.appendChild(el('td', null, l.customer));
        tr.appendChild(el('td', null, l.dimension));
        tr.appendChild(el('td', { class: 'num' }, l.quantity));
        tr.appendChild(el('td', { class: 'num' }, l.entitlement === null ? '—' : l.entitlement));
        tr.appendChild(el('td', { class: 'num' }, l.used));
        var over = el(
          'td',
          { class: 'num strong' + (l.overage !== '0' ? ' overage' : '') },
          l.overage,
        );
        tr.appendChild(over);
        tbody.appendChild(tr);
        billed += Number(l.overage) > 0 ? 1 : 0;
      });
      var contracts = {};
      p.lines.forEach(function (l) {
        contracts[l.customer] = true;
      });
      document.getElementById('confirm-summary').textContent =
        p.lines.length +
        (p.lines.length === 1 ? ' record' : ' records') +
        ' for ' +
        Object.keys(contracts).length +
        (Object.keys(contracts).length === 1 ? ' contract' : ' contracts') +
        '; ' +
        billed +
        ' with billable overage. Submission ' +
        p.submissionId +
        '.';
    }

    submitBtn.addEventListener('click', function () {
      var lines = collectLines();
      if (lines.length === 0) {
        showErrors([{ message: 'Select at least one contract and enter a quantity for it.' }]);
        return;
      }
      submitBtn.disabled = true;
      submitBtn.setAttribute('aria-busy', 'true');
      postJson('/api/listings/' + encodeURIComponent(product) + '/preview', { lines: lines }).then(
        function (r) {
          submitBtn.disabled = false;
          submitBtn.removeAttribute('aria-busy');
          if (r.status !== 200) {
            showErrors(
              r.data.errors || [
                { message: r.data.error || 'The server refused the request (' + r.status + ').' },
              ],
            );
            return;
          }
          showErrors([]);
          // The submission id is fixed when the dialog opens: confirming twice sends it once.
          preview = {
            submissionId: r.data.submissionId,
            hour: r.data.hour,
            lines: r.data.lines,
            sent: lines,
          };
          fillDialog(preview);
          confirmBtn.disabled = false;
          confirmBtn.textContent = 'Confirm send';
          dialog.showModal();
          confirmBtn.focus();
        },
        function () {
          submitBtn.disabled = false;
          submitBtn.removeAttribute('aria-busy');
          showErrors([{ message: 'The console could not be reached. Nothing was sent.' }]);
        },
      );
    });

    cancelBtn.addEventListener('click', function () {
      dialog.close('cancel');
    });
    dialog.addEventListener('close', function () {
      submitBtn.focus();
    });

    confirmBtn.addEventListener('click', function () {
      if (!preview || confirmBtn.disabled) return;
      confirmBtn.disabled = true;
      confirmBtn.textContent = 'Sending…';
      var p = preview;
      postJson('/api/listings/' + encodeURIComponent(product) + '/submissions', {
        submissionId: p.submissionId,
        lines: p.sent,
      }).then(
        function (r) {
          if (r.status !== 202 && r.status !== 200) {
            dialog.close('error');
            showErrors(
              r.data.errors || [
                {
                  message:
                    r.data.error ||
                    'Sending failed (' + r.status + '). Nothing was sent; you can try again.',
                },
              ],
            );
            return;
          }
          preview = null;
          dialog.close('sent');
          // Clear what was sent; keep anything typed into rows that were not selected.
          rowBoxes().forEach(function (b) {
            if (!b.checked) return;
            b.closest('tr')
              .querySelectorAll('input.qty')
              .forEach(function (i) {
                i.value = '';
              });
            b.checked = false;
          });
          refreshSelection();
          showStatus(r.data, p.lines);
          poll(r.data.submissionId, p.lines, Date.now());
        },
        function () {
          confirmBtn.disabled = false;
          confirmBtn.textContent = 'Confirm send';
          showErrors([
            {
              message:
                'The console could not be reached. Confirm again to retry: it is sent at most once.',
            },
          ]);
        },
      );
    });

    var buyers = {};
    form.querySelectorAll('tr[data-customer]').forEach(function (tr) {
      buyers[tr.getAttribute('data-customer')] = tr.getAttribute('data-buyer');
    });

    function showStatus(s) {
      var section = document.getElementById('submission-status');
      section.hidden = false;
      document.getElementById('submission-id').textContent = s.submissionId;
      var tbody = document.querySelector('#status-table tbody');
      tbody.textContent = '';
      var counts = {};
      s.records.forEach(function (rec) {
        counts[rec.status] = (counts[rec.status] || 0) + 1;
        var tr = el('tr', {
          'data-customer': rec.customer,
          'data-dimension': rec.dimension,
          'data-status': rec.status,
        });
        tr.appendChild(el('td', null, buyers[rec.customer] || '—'));
        tr.appendChild(el('td', null, rec.customer));
        tr.appendChild(el('td', null, rec.dimension));
        tr.appendChild(el('td', { class: 'num' }, rec.quantity));
        tr.appendChild(
          el(
            'td',
            { class: 'num' },
            rec.billedQuantity === undefined || rec.billedQuantity === null
              ? '—'
              : rec.billedQuantity,
          ),
        );
        var st = el('td');
        st.appendChild(badge(rec.status));
        tr.appendChild(st);
        tr.appendChild(el('td', { class: 'reason' }, rec.reason || ''));
        tbody.appendChild(tr);
        var row = form.querySelector(
          'tr[data-customer="' + CSS.escape(rec.customer) + '"] td.last-status',
        );
        if (row) {
          row.textContent = '';
          row.appendChild(badge(rec.status));
        }
      });
      var parts = Object.keys(counts).map(function (k) {
        return counts[k] + ' ' + (STATUS_LABELS[k] || k).toLowerCase();
      });
      document.getElementById('status-summary').textContent =
        (s.done ? 'Finished: ' : 'In progress: ') +
        parts.join(', ') +
        '. Sent by ' +
        s.actor +
        ' for the hour starting ' +
        s.hour.slice(0, 16).replace('T', ' ') +
        ' UTC.';
      section.setAttribute('data-done', s.done ? 'true' : 'false');
      if (!section.getAttribute('data-shown')) {
        section.setAttribute('data-shown', 'true');
        section.scrollIntoView({ behavior: 'smooth', block: 'start' });
      }
    }

    function poll(id, lines, started) {
      setTimeout(function () {
        fetch('/api/submissions/' + encodeURIComponent(id), { credentials: 'same-origin' })
          .then(function (res) {
            return res.ok ? res.json() : null;
          })
          .then(
            function (s) {
              if (s) showStatus(s, lines);
              if ((!s || !s.done) && Date.now() - started < 15 * 60 * 1000)
                poll(id, lines, started);
            },
            function () {
              poll(id, lines, started);
            },
          );
      }, 1000);
    }
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', init);
  else init();
})();
