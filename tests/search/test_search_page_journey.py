"""What the search page gives a reader to act on: each hit opens its document, and a
query refused as too long stays in the box, whole, to be shortened."""

import html

from tests.factories import make_document


def _publish(app, **kwargs):
    with app.test_request_context():
        from qms.db import get_session

        session = get_session()
        document = make_document(session, state="effective", **kwargs)
        session.commit()
        return document.number


def test_a_hit_opens_its_document(app, users, client_as):
    number = _publish(app, title="服务投诉处理制度", body="## 受理\n\n投诉当日登记。\n")
    client = client_as("staff")
    page = client.get("/search", query_string={"q": "投诉"}).get_data(as_text=True)
    assert f'<a class="hit-link" href="/documents/{number}">' in page
    document = client.get(f"/documents/{number}").get_data(as_text=True)
    assert "投诉当日登记" in document


def test_an_over_long_query_stays_whole_in_the_box(app, users, client_as):
    _publish(app, title="服务投诉处理制度")
    query = "业主投诉<装修>噪音，" * 25  # 275 characters, pasted
    client = client_as("staff")
    page = client.get("/search", query_string={"q": query}).get_data(as_text=True)
    assert f"{len(query)}" in page and "200" in page  # the reason names both lengths
    assert f'value="{html.escape(query)}"' in page
    assert 'class="hit-link"' not in page
