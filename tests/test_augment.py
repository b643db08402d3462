import torch

from longtail.train import training


def test_crop_flip_shifts_and_mirrors_each_image_by_its_own_draw():
    x = torch.arange(2 * 1 * 4 * 4, dtype=torch.float).view(2, 1, 4, 4) + 1
    flip = torch.tensor([False, True])
    shift = torch.tensor([[4, 4], [4, 4]])  # offset = pad: the crop is the original position
    out = training.crop_flip(x, flip, shift)
    assert torch.equal(out[0], x[0])
    assert torch.equal(out[1], x[1].flip(-1))
    moved = training.crop_flip(x, torch.tensor([False, False]), torch.tensor([[5, 4], [4, 3]]))
    assert torch.equal(moved[0, 0, :3], x[0, 0, 1:]) and (moved[0, 0, 3] == 0).all()  # up one, zero row below
    assert torch.equal(moved[1, 0, :, 1:], x[1, 0, :, :3]) and (moved[1, 0, :, 0] == 0).all()  # right one


def test_crop_flip_keeps_leading_dimensions():
    x = torch.rand(3, 5, 3, 8, 8)  # [K models, B examples, C, H, W]
    out = training.crop_flip(x, torch.zeros(3, 5, dtype=torch.bool), torch.full((3, 5, 2), 4))
    assert torch.equal(out, x)
